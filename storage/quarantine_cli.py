"""`smartpole quarantine list|show|replay|purge`: see and repair what ingest refused."""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from config.services import QuarantineSettings
from models.topics import POLE_ID_PATTERN
from models.wire import DecodeLimits, RejectionKind
from storage import quarantine
from storage.connection import connect
from storage.quarantine import NOT_REPLAYABLE, QuarantineEntry, QuarantineFilter

EXIT_USAGE = 2
_AGO = re.compile(r"^(?P<n>[0-9]{1,6})(?P<unit>[smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_time(text: str) -> datetime:
    """ISO 8601 (without an offset: UTC), or a span ago: 90m, 24h, 7d."""
    match = _AGO.match(text)
    if match:
        try:
            return datetime.now(UTC) - timedelta(**{_UNITS[match["unit"]]: int(match["n"])})
        except OverflowError:
            raise argparse.ArgumentTypeError(f"{text!r} is too long ago") from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not a time: give ISO 8601 (2026-05-01T00:00Z) or a span ago "
            "(90m, 24h, 7d)"
        ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not datetime(1970, 1, 1, tzinfo=UTC) <= moment <= datetime(9999, 1, 1, tzinfo=UTC):
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is out of range")
    return moment


def parse_id(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= quarantine.MAX_ID:
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not a quarantine id (1..{quarantine.MAX_ID})"
        )
    return int(text)


def parse_pole(text: str) -> str:
    if not POLE_ID_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a pole id")
    return text


def parse_limit(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise argparse.ArgumentTypeError("--limit takes 1..100000")
    return int(text)


def printable(text: str) -> str:
    """Text as a terminal may show it: control and format characters escaped (a
    quarantined payload can hold anything, terminal escape sequences included)."""
    out = []
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") and char != "\n":
            out.append(char.encode("unicode_escape").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)


def _add_filters(parser: argparse.ArgumentParser, *, ids: bool = True) -> None:
    kinds = [k.value for k in RejectionKind]
    parser.add_argument(
        "--reason",
        action="append",
        choices=kinds,
        metavar="KIND",
        help=f"only this kind of reason (repeatable): {', '.join(kinds)}",
    )
    parser.add_argument("--since", type=parse_time, help="first received at or after (ISO, 24h)")
    parser.add_argument("--until", type=parse_time, help="first received before (ISO, 24h)")
    parser.add_argument("--pole", type=parse_pole, help="only this pole")
    if ids:
        parser.add_argument(
            "--id", dest="ids", action="append", type=parse_id, help="only this row (repeatable)"
        )


def _filter(args: argparse.Namespace) -> QuarantineFilter:
    return QuarantineFilter(
        kinds=tuple(RejectionKind(k) for k in args.reason or ()),
        since=args.since,
        until=args.until,
        pole_id=args.pole,
        ids=tuple(getattr(args, "ids", None) or ()),
    )


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser(
        "quarantine", help="messages ingest refused: list, show, replay with today's rules, purge"
    )
    sub = group.add_subparsers(dest="quarantine_command", required=True, metavar="COMMAND")

    list_cmd = sub.add_parser("list", help="quarantined messages, oldest first, with a summary")
    _add_filters(list_cmd)
    list_cmd.add_argument("--after-id", type=parse_id, help="continue after this id (paging)")
    list_cmd.add_argument("--limit", type=parse_limit, default=100)
    list_cmd.add_argument("--json", action="store_true", help="one JSON object a line")
    list_cmd.set_defaults(handler=run_list, settings_class=QuarantineSettings)

    show = sub.add_parser("show", help="one quarantined message with its payload")
    show.add_argument("id", type=parse_id)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=run_show, settings_class=QuarantineSettings)

    replay = sub.add_parser(
        "replay",
        help="validate quarantined messages with today's rules: store what passes (exactly "
        "once), keep the rest with their new reason",
    )
    _add_filters(replay)
    replay.add_argument("--dry-run", action="store_true", help="report only; write nothing")
    replay.set_defaults(handler=run_replay, settings_class=QuarantineSettings)

    purge = sub.add_parser("purge", help="delete quarantined messages")
    _add_filters(purge)
    purge.add_argument("--all", action="store_true", help="every row (no filter needed)")
    purge.add_argument("--dry-run", action="store_true", help="count only")
    purge.set_defaults(handler=run_purge, settings_class=QuarantineSettings)


def entry_dict(entry: QuarantineEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "received_at": entry.received_at.isoformat(),
        "last_received_at": entry.last_received_at.isoformat(),
        "times_seen": entry.times_seen,
        "topic": entry.topic,
        "pole_id": entry.pole_id,
        "family": entry.family,
        "item_index": entry.item_index,
        "reason_kind": entry.reason_kind,
        "reason": entry.reason,
        "payload_bytes": entry.payload_bytes,
        "replayable": entry.replayable,
    }


def run_list(args: argparse.Namespace, settings: QuarantineSettings) -> int:
    where = _filter(args)
    with connect(settings.require_database_url(), autocommit=True) as conn:
        summary = quarantine.summarise(conn, where)
        entries = quarantine.list_entries(conn, where, after_id=args.after_id, limit=args.limit)
    if args.json:
        for entry in entries:
            sys.stdout.buffer.write(orjson.dumps(entry_dict(entry)) + b"\n")
        return 0
    if not summary:
        print("no quarantined messages match")
        return 0
    header = f"{'kind':<16} {'rows':>8} {'messages':>9} {'not replayable':>15}"
    print(f"{header}  first .. last received")
    for kind in summary:
        print(
            f"{kind.reason_kind:<16} {kind.rows:>8} {kind.messages:>9} {kind.not_replayable:>15}"
            f"  {kind.first_received_at:%Y-%m-%d %H:%M} .. {kind.last_received_at:%Y-%m-%d %H:%M}"
        )
    print()
    for entry in entries:
        note = "" if entry.replayable else f"  [{NOT_REPLAYABLE}]"
        where_from = entry.pole_id or printable(entry.topic[:60])
        print(
            f"{entry.id:>10}  {entry.received_at:%Y-%m-%dT%H:%M:%SZ}  x{entry.times_seen:<4} "
            f"{where_from:<20} {entry.family or '-':<6} {entry.reason_kind:<16} "
            f"{printable(entry.reason[:120])}{note}"
        )
    if len(entries) == args.limit:
        print(f"... more: --after-id {entries[-1].id}")
    return 0


def run_show(args: argparse.Namespace, settings: QuarantineSettings) -> int:
    with connect(settings.require_database_url(), autocommit=True) as conn:
        found = quarantine.get_entry(conn, args.id)
    if found is None:
        print(f"smartpole quarantine: no quarantined message {args.id}", file=sys.stderr)
        return 1
    entry, payload, digest = found
    if args.json:
        body = {
            **entry_dict(entry),
            "payload_sha256": digest.hex(),
            "payload": payload.decode("utf-8", "backslashreplace"),
        }
        sys.stdout.buffer.write(orjson.dumps(body) + b"\n")
        return 0
    for key, value in entry_dict(entry).items():
        print(f"{key:>17}: {printable(str(value))}")
    print(f"{'payload_sha256':>17}: {digest.hex()}")
    if not entry.replayable:
        print(f"{'':>17}  {NOT_REPLAYABLE}")
    print("payload:")
    print(printable(payload.decode("utf-8", "backslashreplace")))
    return 0


def run_replay(args: argparse.Namespace, settings: QuarantineSettings) -> int:
    limits = DecodeLimits(
        max_payload_bytes=settings.ingest_max_payload_bytes,
        max_future_skew=timedelta(seconds=settings.ingest_max_future_skew_s),
    )
    with connect(settings.require_database_url()) as conn:
        report = quarantine.replay(conn, _filter(args), limits, dry_run=args.dry_run)
    figures = report.as_dict()
    verb = "would be" if args.dry_run else "were"
    print(
        f"{report.examined} quarantined messages re-validated ({report.not_replayable} matching "
        f"are not replayable): {report.resolved} now pass; {report.stored} readings {verb} "
        f"stored, {report.duplicates} were stored already; {report.still_quarantined} stay "
        f"quarantined ({report.reason_changed} with a new reason)"
        + (" -- dry run, nothing written" if args.dry_run else "")
    )
    sys.stdout.buffer.write(orjson.dumps(figures) + b"\n")
    return 0


def run_purge(args: argparse.Namespace, settings: QuarantineSettings) -> int:
    where = _filter(args)
    if where.is_empty() and not args.all:
        print("smartpole quarantine purge: give a filter, or --all for every row", file=sys.stderr)
        return EXIT_USAGE
    with connect(settings.require_database_url(), autocommit=True) as conn:
        count = quarantine.purge(conn, where, dry_run=args.dry_run)
    print(f"{count} quarantined messages {'would be deleted' if args.dry_run else 'deleted'}")
    return 0
