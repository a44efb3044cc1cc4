"""The README's dashboard and alert tables, generated from the code that builds them, so
every number the README quotes (limit values, thresholds, pending periods) is the one
the generated dashboards and rules use, read from the domain catalogue.

`smartpole.readme_blocks` writes them into README.md (`make readme`) with the other
generated blocks; `tests/dashboards/test_readme.py` checks what they quote.
"""

from __future__ import annotations

from dashboards import alerts
from dashboards.build import built_dashboards


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def dashboards_table() -> str:
    lines = ["| dashboard | shows |", "|---|---|"]
    for built in built_dashboards():
        lines.append(f"| {built.spec.name} | {_cell(built.spec.summary)} |")
    return "\n".join(lines) + "\n"


def alerts_table() -> str:
    lines = ["| rule | fires when | for |", "|---|---|---|"]
    for rule in alerts.RULES:
        pending = "-" if rule.pending_for == "0s" else rule.pending_for
        lines.append(f"| {rule.title} | {_cell(rule.fires_when)} | {pending} |")
    return "\n".join(lines) + "\n"
