"""An inventory import: read, check, diff against the registry, report, and write
all of it in one transaction - or nothing.

1. Every row is read (streamed), checked (inventory.entries) and staged in
   a temporary table; a row that fails a check is recorded with its line and
   reasons. Something that makes the rest unreadable (an encoding error, a
   document that is not a FeatureCollection) stops reading: it is reported
   with its line, and the import cannot be written.
2. What only the whole file tells is checked in SQL: a pole id on two lines,
   an asset id on two poles, a retired pole.
3. Each staged row is compared with the pole as it is: created, updated (the
   changed fields, old and new) or unchanged. Fields a file leaves out are
   not compared and not touched.
4. The report is produced. A dry run, or any rejected row, rolls everything
   back; otherwise the changes and their history are applied and committed.

Matching is by pole id; a pole missing from the file stays as it is (retire
it with `smartpole poles decommission`). Importing the same file twice: the
second run reports every row unchanged and writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, BinaryIO, Literal

import psycopg

from inventory.entries import (
    Columns,
    EntryParser,
    MappingError,
    PoleEntry,
    Rejected,
)
from inventory.geo import CityArea, CoordinateSystem, InventoryConfigError, crs_member_name
from inventory.report import LISTED_KINDS, ImportReport
from inventory.sources import CsvSource, Digest, FileError, GeoJsonSource, RawRow, codec
from storage.inventory import ENTRY_FIELDS, ImportSession, Outcome
from storage.registry import json_value

log = logging.getLogger(__name__)

Format = Literal["auto", "csv", "geojson"]
BATCH_ROWS = 2000
FILE_ROW = 0  # a rejection of the file as a whole


@dataclass(frozen=True)
class ImportOptions:
    format: Format = "auto"
    encoding: str = "utf-8"
    delimiter: str | None = None
    crs: str | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)
    dry_run: bool = False


def check_options(options: ImportOptions) -> None:
    """InventoryConfigError unless the CRS, encoding and delimiter are usable (so a
    command can refuse them before it reads anything)."""
    CoordinateSystem.parse(options.crs)
    try:
        codec(options.encoding)
    except FileError as exc:
        raise InventoryConfigError(exc.reason) from None
    if options.delimiter not in (None, ";", ",", "\t"):
        raise InventoryConfigError("the delimiter must be ';', ',' or tab")


def detect_format(name: str, stream: BinaryIO) -> Literal["csv", "geojson"]:
    """By the file name's extension, else by the first character (`{` or `[`: JSON)."""
    suffix = PurePath(name).suffix.lower()
    if suffix in (".geojson", ".json"):
        return "geojson"
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    head = stream.peek(64)[:64] if hasattr(stream, "peek") else b""
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return "geojson" if head[:1] in (b"{", b"[") else "csv"


def import_inventory(
    conn: psycopg.Connection[Any],
    stream: BinaryIO,
    *,
    source_name: str,
    options: ImportOptions,
    area: CityArea,
    changed_by: str,
) -> ImportReport:
    """Import one file; the report says what happened (`written`). Raises only for
    the database (psycopg.Error) and for unusable options (InventoryConfigError)."""
    crs = CoordinateSystem.parse(options.crs)
    fmt = detect_format(source_name, stream) if options.format == "auto" else options.format
    report = ImportReport(source=source_name, format=fmt, dry_run=options.dry_run, crs=crs.name)
    digest = Digest(stream)
    written = False
    with conn.transaction():
        session = ImportSession.open(conn, serialise=not options.dry_run)
        run = _Run(session, report, options, area, crs)
        fatal = run.stage(digest, fmt)
        if fatal is None:
            digest.drain()
            report.sha256 = digest.sha256.hexdigest()
            run.reject_conflicts()
        report.size_bytes = digest.size
        clean = session.rejected_count() == 0
        if clean and not options.dry_run:
            session.lock_poles()
        if fatal is None:
            run.diff()
        run.fill_report()
        if clean and not options.dry_run:
            assert report.sha256 is not None
            session.apply(
                changed_by=changed_by,
                source=f"import {source_name[:200]} sha256:{report.sha256[:16]}",
            )
            written = True
        else:
            raise psycopg.Rollback()
    report.written = written
    if written:
        c = report.counts
        log.info(
            "inventory %s imported: %d created, %d updated, %d unchanged",
            source_name, c["created"], c["updated"], c["unchanged"],
        )  # fmt: skip
    return report


class _Run:
    def __init__(
        self,
        session: ImportSession,
        report: ImportReport,
        options: ImportOptions,
        area: CityArea,
        crs: CoordinateSystem,
    ) -> None:
        self.session = session
        self.report = report
        self.options = options
        self.area = area
        self.crs = crs
        self._parsed: list[PoleEntry | Rejected] = []
        self._staged: list[tuple[Any, ...]] = []
        self.parser: EntryParser | None = None
        self._rejected: list[tuple[int, int, str | None, bool, str]] = []

    # --- 1: read and stage ----------------------------------------------------------

    def stage(self, digest: Digest, fmt: str) -> FileError | None:
        columns = Columns(self.options.mapping, geojson=fmt == "geojson")
        fatal: FileError | None = None
        try:
            parser = self.parser = EntryParser(columns, self.crs, self.area)
            for raw in self._rows(digest, fmt, parser, columns):
                self._parsed.append(parser.parse(raw))
                if len(self._parsed) >= BATCH_ROWS:
                    self._flush()
        except FileError as exc:
            fatal = exc
        except MappingError as exc:
            fatal = FileError(None, str(exc))
        if fatal is None and (missing := columns.unmapped_columns()):
            fatal = FileError(None, f"--map: no row has the column(s) {', '.join(missing)}")
        if fatal is not None:
            self._reject(FILE_ROW, fatal.line or FILE_ROW, None, False, fatal.reason)
        self._flush()
        if columns.unknown:
            names = ", ".join(list(columns.unknown)[:20])
            self.report.notices.append(
                f"columns not in the registry, kept as internal properties (never published): "
                f"{names}; map them with --map or name them public.KEY / internal.KEY"
            )
        if columns.ignored:
            self.report.notices.append(
                f"ignored properties {', '.join(columns.ignored)}: the geometry gives the position"
            )
        return fatal

    def _rows(
        self, digest: Digest, fmt: str, parser: EntryParser, columns: Columns
    ) -> Iterator[RawRow]:
        if fmt == "csv":
            csv_source = CsvSource(digest, self.options.encoding, self.options.delimiter)
            self.report.encoding = csv_source.encoding
            self.report.delimiter = csv_source.delimiter
            header = set(csv_source.header)
            missing = [c for c in self.options.mapping.values() if c not in header]
            if missing:
                raise FileError(1, f"--map names column(s) not in the header: {', '.join(missing)}")
            yield from csv_source.rows()
            return
        geojson = GeoJsonSource(digest, self.options.encoding)
        self.report.encoding = codec(self.options.encoding)
        first = True
        for raw in geojson.features():
            if first:
                first = False
                self._legacy_crs(geojson.members.get("crs"), parser)
            yield raw

    def _legacy_crs(self, member: Any, parser: EntryParser) -> None:
        try:
            name = crs_member_name(member)
            if name is None:
                return
            named = CoordinateSystem.parse(name)
        except InventoryConfigError as exc:
            raise FileError(None, f"the crs member: {exc}") from None
        if self.options.crs is not None and named.name != self.crs.name:
            raise FileError(
                None, f"the file's crs member says {named.name}, --crs says {self.crs.name}"
            )
        parser.crs = self.crs = named
        self.report.crs = named.name

    def _reject(self, seq: int, line: int, pole_id: str | None, valid: bool, reason: str) -> None:
        self._rejected.append((seq, line, pole_id, valid, reason))
        if len(self._rejected) >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self.parser is not None and self._parsed:
            for result in self.parser.finish(self._parsed):
                if isinstance(result, Rejected):
                    self._rejected.append(
                        (result.seq, result.line, result.pole_id, result.pole_id_valid,
                         result.reason)
                    )  # fmt: skip
                else:
                    self._staged.append(result.stage_row())
            self._parsed.clear()
        self.session.stage(self._staged)
        self.session.reject(self._rejected)
        self._staged.clear()
        self._rejected.clear()

    # --- 2: what the whole file tells ---------------------------------------------------

    def reject_conflicts(self) -> None:
        s = self.session
        where = "features" if self.report.format == "geojson" else "lines"
        for pole_id, seqs, lines in s.duplicate_pole_ids():
            numbers = seqs if where == "features" else lines
            reason = f"pole id {pole_id} appears on {where} {_lines(numbers)}: once per file"
            for seq, line in zip(seqs, lines, strict=True):
                self._reject(seq, line, pole_id, True, reason)
        for asset_id, seqs, lines in s.duplicate_asset_ids():
            numbers = seqs if where == "features" else lines
            reason = f"asset id {asset_id!r} is given to several poles ({where} {_lines(numbers)})"
            for seq, line in zip(seqs, lines, strict=True):
                self._reject(seq, line, None, False, reason)
        for seq, line, pole_id, asset_id, owner in s.taken_asset_ids():
            self._reject(seq, line, pole_id, True, f"asset id {asset_id!r} belongs to pole {owner}")
        for seq, line, pole_id, when in s.retired_poles():
            self._reject(
                seq,
                line,
                pole_id,
                True,
                f"pole {pole_id} was decommissioned on {when:%Y-%m-%d}: an import does not "
                "bring a retired pole back (remove the row)",
            )
        self._flush()

    # --- 3: diff -----------------------------------------------------------------------------

    def diff(self) -> None:
        for batch in self.session.pairs():
            self.session.record([compare(staged, current) for staged, current in batch])

    # --- 4: the report -----------------------------------------------------------------------

    def fill_report(self) -> None:
        self.report.counts = self.session.counts()
        for kind in LISTED_KINDS:
            for row in self.session.report_rows(kind):
                entry: dict[str, Any] = {
                    "line": row["line"] or None,
                    "row": row["seq"] or None,
                    "pole_id": row["pole_id"],
                }
                if kind == "rejected":
                    entry["reason"] = row["reason"]
                else:
                    entry["changes"] = row["changes"]
                self.report.add_row(kind, entry)


def _lines(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:10])
    return shown + (f" and {len(lines) - 10} more" if len(lines) > 10 else "")


def compare(staged: dict[str, Any], current: dict[str, Any] | None) -> Outcome:
    """created / updated (with old and new of each changed field) / unchanged."""
    provided = set(staged["provided"])
    fields = [name for name in ENTRY_FIELDS if name in provided]
    changes: dict[str, dict[str, Any]] = {}
    for name in fields:
        new = _normal(name, staged[name])
        old = None if current is None else _normal(name, current[name])
        if new != old:
            changes[name] = {"old": json_value(old), "new": json_value(new)}
    kind = "created" if current is None else ("updated" if changes else "unchanged")
    return Outcome(staged["seq"], staged["line"], staged["pole_id"], kind, changes)


def _normal(name: str, value: Any) -> Any:
    """One spelling per meaning: empty is None, lists in a fixed order."""
    if value in (None, "", [], {}):
        return None
    if name == "capabilities":
        return sorted(value)
    if name == "connectors":
        return [
            {
                "connector_id": int(c["connector_id"]),
                "max_power_kw": None if c.get("max_power_kw") is None else float(c["max_power_kw"]),
                "plug_type": c.get("plug_type"),
            }
            for c in sorted(value, key=lambda c: int(c["connector_id"]))
        ]
    return value
