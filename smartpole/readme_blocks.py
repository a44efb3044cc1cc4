"""The parts of README.md that are generated from the code, so they cannot drift.

    python -m smartpole.readme_blocks            # print every block
    python -m smartpole.readme_blocks --write    # replace the blocks in README.md

Each block sits between `<!-- NAME:start -->` and `<!-- NAME:end -->`:
- `settings-table`: every SMARTPOLE_* variable, its default and the commands
  that read it, from the services' settings classes (`config.services`);
- `deprecated-settings`: renamed variables that still work (`config.base`);
- `mqtt-fields`: the payload fields of each family, with units and ranges, from
  the domain catalogue (`models.catalogue`);
- `dashboards-table`, `alerts-table`: the Grafana dashboards and alert rules, with
  the values they use (`dashboards.readme`).
A test checks that each block equals what this module generates.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic.fields import FieldInfo

from config.base import DEPRECATED_NAMES, ENV_PREFIX
from config.services import SERVICE_SETTINGS
from dashboards.readme import alerts_table, dashboards_table
from models.catalogue.families import FAMILIES, FieldSpec

README = Path(__file__).resolve().parent.parent / "README.md"


def _default_text(info: FieldInfo) -> str:
    if info.default_factory is not None:
        # A computed default (e.g. from the host name): show its shape, not
        # the value on the machine that generated the README.
        value = str(info.default_factory())  # type: ignore[call-arg]
        return f"`{value.replace(socket.gethostname(), '<hostname>')}`"
    default = info.default
    if default is None:
        return "unset"
    if default == "":
        return "empty"
    return f"`{default}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def settings_rows() -> dict[str, tuple[FieldInfo, list[str]]]:
    """Every variable: its field and the commands that read it, in class order."""
    rows: dict[str, tuple[FieldInfo, list[str]]] = {}
    for cls in SERVICE_SETTINGS:
        for name, info in cls.model_fields.items():
            _, users = rows.setdefault(name, (info, []))
            users.append(cls.used_by)
    return rows


def settings_table() -> str:
    """The markdown table: one row per variable."""
    lines = ["| variable | default | read by | description |", "|---|---|---|---|"]
    for name, (info, users) in settings_rows().items():
        variable = f"{ENV_PREFIX}{name}".upper()
        read_by = ", ".join(f"`{u}`" for u in users)
        lines.append(
            f"| `{variable}` | {_cell(_default_text(info))} | {read_by} | "
            f"{_cell(info.description or '')} |"
        )
    return "\n".join(lines) + "\n"


def deprecated_settings_table() -> str:
    lines = ["| old variable | use instead |", "|---|---|"]
    lines += [f"| `{old}` | `{new}` |" for old, new in sorted(DEPRECATED_NAMES.items())]
    return "\n".join(lines) + "\n"


def _values(field: FieldSpec) -> str:
    if field.vocabulary is not None:
        return ", ".join(f"`{v.value}`" for v in field.vocabulary)
    if field.unit is None:
        return "text"
    low, high = field.minimum, field.maximum
    shown = [] if field.unit.symbol == "1" else [field.unit.symbol]
    if low is not None and high is not None and high < 1e9:
        shown.append(f"{low:g} to {high:g}")
    elif low is not None and low >= 0:
        shown.append("≥ 0")
    return ", ".join(shown)


def mqtt_fields_table() -> str:
    lines = ["| family | field | unit / values | stored as |", "|---|---|---|---|"]
    for family, spec in FAMILIES.items():
        for field in spec.fields:
            name = f"`{field.wire}`" + (" (required)" if field.required else "")
            if field.default is not None:
                name += f" (default `{field.default.value}`)"
            lines.append(
                f"| {family.value} | {name} | {_cell(_values(field))} | "
                f"`{spec.table}.{field.column}` |"
            )
    return "\n".join(lines) + "\n"


BLOCKS: dict[str, Callable[[], str]] = {
    "settings-table": settings_table,
    "deprecated-settings": deprecated_settings_table,
    "mqtt-fields": mqtt_fields_table,
    "dashboards-table": dashboards_table,
    "alerts-table": alerts_table,
}


def _bounds(readme_text: str, name: str) -> tuple[int, int]:
    start_marker, end_marker = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    start = readme_text.index(start_marker) + len(start_marker)
    return start, readme_text.index(end_marker, start)


def replace_block(readme_text: str, name: str, content: str) -> str:
    """`readme_text` with the text between the markers of block `name` replaced."""
    start, end = _bounds(readme_text, name)
    return readme_text[:start] + "\n" + content + readme_text[end:]


def current_block(readme_text: str, name: str) -> str:
    start, end = _bounds(readme_text, name)
    return readme_text[start:end].removeprefix("\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m smartpole.readme_blocks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--write", action="store_true", help=f"update the blocks in {README}")
    args = parser.parse_args(argv)
    if args.write:
        text = README.read_text(encoding="utf-8")
        for name, generate in BLOCKS.items():
            text = replace_block(text, name, generate())
        README.write_text(text, "utf-8")
    else:
        for name, generate in BLOCKS.items():
            sys.stdout.write(f"<!-- {name} -->\n{generate()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
