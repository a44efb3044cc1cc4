"""The README's dashboard and alert tables, generated from the code that builds them, so
every number the README quotes (limit values, thresholds, pending periods) is the one
the generated dashboards and rules use, read from the domain catalogue.

    python -m dashboards.readme            # print both tables
    python -m dashboards.readme --write    # replace the blocks in README.md

The README keeps each table between two markers; `tests/dashboards/test_readme.py`
checks that the blocks equal what this module generates.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dashboards import alerts
from dashboards.build import built_dashboards

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = ("dashboards-table", "alerts-table")


def _markers(block: str) -> tuple[str, str]:
    return f"<!-- {block}:start -->", f"<!-- {block}:end -->"


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


def tables() -> dict[str, str]:
    return {"dashboards-table": dashboards_table(), "alerts-table": alerts_table()}


def current_block(readme_text: str, block: str) -> str:
    start_marker, end_marker = _markers(block)
    start = readme_text.index(start_marker) + len(start_marker)
    end = readme_text.index(end_marker, start)
    return readme_text[start:end].lstrip("\n")


def replace_blocks(readme_text: str) -> str:
    for block, table in tables().items():
        start_marker, end_marker = _markers(block)
        start = readme_text.index(start_marker) + len(start_marker)
        end = readme_text.index(end_marker, start)
        readme_text = readme_text[:start] + "\n" + table + readme_text[end:]
    return readme_text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"update {README.name} in place")
    args = parser.parse_args(argv)
    if not args.write:
        sys.stdout.write("\n".join(tables().values()))
        return 0
    README.write_text(replace_blocks(README.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
