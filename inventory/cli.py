"""`smartpole poles import|export|decommission|history`: the pole inventory.

`register_inventory` adds these subcommands to the `poles` group, which
smartpole/poles_cli.py assembles with the broker credentials' subcommands and
where decommissioning is joined to revoking a pole's credentials.
"""

from __future__ import annotations

import argparse
import os
import pwd
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

import orjson
import psycopg

from config.services import InventorySettings
from inventory.decommission import DecommissionHook, decommission_pole
from inventory.entries import MappingError, parse_mapping
from inventory.export import export_registry
from inventory.geo import CityArea
from inventory.importer import ImportOptions, check_options, import_inventory
from inventory.report import ImportReport
from models.topics import POLE_ID_PATTERN
from storage import registry
from storage.connection import connect

EXIT_REJECTED = 1
EXIT_USAGE = 2


def register_inventory(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:

    imp = kinds.add_parser(
        "import",
        help="import a GeoJSON or CSV inventory (all or nothing)",
        description="Import poles from a GIS export: a GeoJSON FeatureCollection of Points or a "
        "CSV. Rows are matched by pole_id; poles missing from the file are left as they are. "
        "Prints what changed (or would, with --dry-run); any rejected row means nothing is "
        "written. See the README's section for the city's GIS team.",
    )
    imp.add_argument("file", metavar="FILE", help="the file ('-': standard input)")
    imp.add_argument("--format", choices=("auto", "csv", "geojson"), default="auto")
    imp.add_argument(
        "--dry-run", action="store_true", help="report what would change; write nothing"
    )
    imp.add_argument(
        "--crs", help="CRS of the coordinates, e.g. EPSG:25832 (CSV columns x, y); default WGS 84"
    )
    imp.add_argument("--encoding", default="utf-8", help="utf-8 (default, BOM or not) or cp1252")
    imp.add_argument(
        "--delimiter", help="CSV delimiter: ';', ',' or tab (default: from the header)"
    )
    imp.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN,...",
        help="which column holds which field, e.g. name=BEZEICHNUNG,district=STADTTEIL",
    )
    imp.add_argument("--report", type=Path, help="also write the full report as JSON ('-': stdout)")
    imp.add_argument(
        "--show", type=int, default=50, help="created/updated rows listed (rejected: all)"
    )
    imp.set_defaults(handler=run_import, settings_class=InventorySettings)

    exp = kinds.add_parser("export", help="write every current pole as GeoJSON or CSV")
    exp.add_argument("--format", choices=("geojson", "csv"), default="geojson")
    exp.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    exp.add_argument("--delimiter", default=";", help="CSV delimiter (default ';')")
    exp.set_defaults(handler=run_export, settings_class=InventorySettings)

    dec = kinds.add_parser(
        "decommission",
        help="retire a pole: history kept, hidden from current lists, later messages quarantined",
    )
    dec.add_argument("pole_id", metavar="POLE_ID")
    dec.set_defaults(handler=run_decommission, settings_class=InventorySettings)

    his = kinds.add_parser("history", help="every change of a pole's registry entry")
    his.add_argument("pole_id", metavar="POLE_ID")
    his.add_argument("--json", action="store_true", help="JSON lines instead of text")
    his.set_defaults(handler=run_history, settings_class=InventorySettings)


def cli_user() -> str:
    """Who runs this command, for the registry history (the operating system's
    account name, not an environment variable anybody can set)."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def run_import(args: argparse.Namespace, settings: InventorySettings) -> int:
    try:
        mapping = parse_mapping(args.map)
    except MappingError as exc:
        return _fail(str(exc))
    options = ImportOptions(
        format=args.format,
        encoding=args.encoding,
        delimiter="\t" if args.delimiter in ("tab", "\\t") else args.delimiter,
        crs=args.crs,
        mapping=mapping,
        dry_run=args.dry_run,
    )
    check_options(options)
    area = CityArea.from_settings(settings)
    with ExitStack() as stack:
        if args.file == "-":
            stream = cast(BinaryIO, sys.stdin.buffer)
            name = "stdin"
        else:
            path = Path(args.file)
            try:
                stream = stack.enter_context(path.open("rb"))
            except OSError as exc:
                return _fail(f"cannot read {path}: {exc.strerror}")
            name = path.name
        conn = stack.enter_context(connect(settings.require_database_url()))
        report = import_inventory(
            conn,
            stream,
            source_name=name,
            options=options,
            area=area,
            changed_by=cli_user(),
        )
        stack.callback(report.close)
        _write_report(report, args.report)
        report.write_text(sys.stdout, show=args.show)
        return EXIT_REJECTED if report.rejected else 0


def _write_report(report: ImportReport, target: Path | None) -> None:
    if target is None:
        return
    if str(target) == "-":
        report.write_json(sys.stdout.buffer)
        sys.stdout.flush()
        return
    with target.open("wb") as out:
        report.write_json(out)


def run_export(args: argparse.Namespace, settings: InventorySettings) -> int:
    delimiter = "\t" if args.delimiter in ("tab", "\\t") else args.delimiter
    if delimiter not in (";", ",", "\t"):
        return _fail("the delimiter must be ';', ',' or tab")
    with ExitStack() as stack:
        out: IO[bytes]
        if args.output is None:
            out = sys.stdout.buffer
        else:
            out = stack.enter_context(args.output.open("wb"))
        conn = stack.enter_context(connect(settings.require_database_url()))
        poles, escaped = export_registry(conn, args.format, out, delimiter)
        out.flush()
    print(f"exported {poles} poles", file=sys.stderr)
    if escaped:
        print(
            f"{escaped} cells start with = + - @ and were written with a leading ' so a "
            "spreadsheet shows them instead of running them",
            file=sys.stderr,
        )
    return 0


def run_decommission(
    args: argparse.Namespace,
    settings: InventorySettings,
    hooks: Sequence[DecommissionHook] = (),
) -> int:
    if not POLE_ID_PATTERN.fullmatch(args.pole_id):
        return _fail(f"invalid pole id {args.pole_id[:80]!r}")
    with connect(settings.require_database_url()) as conn:
        done = decommission_pole(
            conn, args.pole_id, changed_by=cli_user(), source="cli decommission", hooks=hooks
        )
    if done.outcome == "missing":
        return _fail(f"no pole {args.pole_id}")
    when = done.at.isoformat() if done.at else "?"
    if done.outcome == "already":
        print(f"{args.pole_id} was already decommissioned at {when}")
        return 0
    print(
        f"{args.pole_id} decommissioned at {when}: kept with its history, hidden from current "
        "lists; messages it sends from now on are quarantined"
    )
    return 0


def run_history(args: argparse.Namespace, settings: InventorySettings) -> int:
    if not POLE_ID_PATTERN.fullmatch(args.pole_id):
        return _fail(f"invalid pole id {args.pole_id[:80]!r}")
    with connect(settings.require_database_url()) as conn:
        entries = _all_history(conn, args.pole_id)
    if not entries:
        return _fail(f"no history for pole {args.pole_id}")
    for entry in entries:
        if args.json:
            sys.stdout.buffer.write(orjson.dumps(entry) + b"\n")
            continue
        changes = ", ".join(
            f"{name}: {_short(c.get('old'))} -> {_short(c.get('new'))}"
            for name, c in entry["changes"].items()
        )
        print(f"{entry['changed_at']:%Y-%m-%d %H:%M:%S%z}  {entry['changed_by']}  "
              f"({entry['source']})  {changes}")  # fmt: skip
    sys.stdout.flush()
    return 0


def _all_history(conn: psycopg.Connection[Any], pole_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    after = None
    while page := registry.pole_history(conn, pole_id, after, 1000):
        entries.extend(page)
        after = page[-1]["id"]
    return entries


def _short(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 60 else text[:57] + "..."


def _fail(message: str) -> int:
    print(f"smartpole poles: {message}", file=sys.stderr)
    return EXIT_USAGE
