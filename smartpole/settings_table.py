"""The README's configuration reference, generated from the services' settings
classes (`config.services`): one row per variable, with the commands that read it.

    python -m smartpole.settings_table            # print the table
    python -m smartpole.settings_table --write    # replace the block in README.md

The README keeps the table between two markers; a test checks that the block
equals what this module generates, so a new setting cannot go undocumented.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic.fields import FieldInfo

from config.base import ENV_PREFIX
from config.services import SERVICE_SETTINGS

START_MARKER = "<!-- settings-table:start -->"
END_MARKER = "<!-- settings-table:end -->"
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
    lines = [
        "| variable | default | read by | description |",
        "|---|---|---|---|",
    ]
    for name, (info, users) in settings_rows().items():
        variable = f"{ENV_PREFIX}{name}".upper()
        description = _cell(info.description or "")
        read_by = ", ".join(f"`{u}`" for u in users)
        lines.append(f"| `{variable}` | {_cell(_default_text(info))} | {read_by} | {description} |")
    return "\n".join(lines) + "\n"


def replace_block(readme_text: str, table: str) -> str:
    """`readme_text` with the text between the markers replaced by `table`."""
    start = readme_text.index(START_MARKER) + len(START_MARKER)
    end = readme_text.index(END_MARKER, start)
    return readme_text[:start] + "\n" + table + readme_text[end:]


def current_block(readme_text: str) -> str:
    start = readme_text.index(START_MARKER) + len(START_MARKER)
    end = readme_text.index(END_MARKER, start)
    return readme_text[start:end].removeprefix("\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m smartpole.settings_table", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--write", action="store_true", help=f"update the block in {README}")
    args = parser.parse_args(argv)
    table = settings_table()
    if args.write:
        README.write_text(replace_block(README.read_text(encoding="utf-8"), table), "utf-8")
    else:
        sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
