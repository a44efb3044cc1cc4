"""What an import did or would do: counts, one entry per created, updated and
rejected row (unchanged rows are counted), as text for people and JSON for
programs (the admin API answers with the JSON).

The rows are kept in a spooled temporary file (memory up to 1 MiB, then
disk), so a report of a million rows costs no more memory than one of ten.
"""

from __future__ import annotations

import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, TextIO

import orjson

KINDS = ("created", "updated", "unchanged", "rejected")
LISTED_KINDS = ("rejected", "created", "updated")
VALUE_SHOWN_CHARS = 60


@dataclass
class ImportReport:
    source: str
    format: str
    dry_run: bool
    encoding: str | None = None
    delimiter: str | None = None
    crs: str | None = None
    sha256: str | None = None
    size_bytes: int = 0
    written: bool = False
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    notices: list[str] = field(default_factory=list)
    _rows: IO[bytes] = field(
        default_factory=lambda: tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115
    )

    def __post_init__(self) -> None:
        # Closed when the report goes away, even if nobody called close().
        weakref.finalize(self, self._rows.close)

    @property
    def rejected(self) -> bool:
        return self.counts["rejected"] > 0

    def add_row(self, kind: str, row: dict[str, Any]) -> None:
        """Rows are added grouped by kind (LISTED_KINDS order), each group by line."""
        self._rows.write(orjson.dumps({"kind": kind, **row}, default=str) + b"\n")

    def rows(self, kind: str | None = None) -> Iterator[dict[str, Any]]:
        self._rows.flush()
        self._rows.seek(0)
        for line in self._rows:
            row: dict[str, Any] = orjson.loads(line)
            if kind is None or row["kind"] == kind:
                yield row
        self._rows.seek(0, 2)

    def close(self) -> None:
        self._rows.close()

    def header(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "crs": self.crs,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "dry_run": self.dry_run,
            "written": self.written,
            "counts": self.counts,
            "notices": self.notices,
        }

    def write_json(self, out: BinaryIO | IO[bytes]) -> None:
        """One JSON document: the header's members, then created, updated and
        rejected as arrays (row by row, never the whole report in memory)."""
        header = orjson.dumps(self.header())
        out.write(header[:-1])
        for kind in ("created", "updated", "rejected"):
            out.write(b',"' + kind.encode() + b'":[')
            first = True
            for row in self.rows(kind):
                row.pop("kind")
                out.write((b"" if first else b",") + orjson.dumps(row))
                first = False
            out.write(b"]")
        out.write(b"}\n")

    def as_dict(self) -> dict[str, Any]:
        document = self.header()
        for kind in ("created", "updated", "rejected"):
            document[kind] = [{k: v for k, v in r.items() if k != "kind"} for r in self.rows(kind)]
        return document

    def write_text(self, out: TextIO, *, show: int | None = 50) -> None:
        """Every rejection; created and updated up to `show` each (None: all)."""
        c = self.counts
        where = ", ".join(
            part
            for part in (
                self.format,
                self.encoding,
                None if self.delimiter is None else f"delimiter {self.delimiter!r}",
                self.crs,
            )
            if part
        )
        out.write(
            f"{self.source} ({where}): {c['created']} created, {c['updated']} updated, "
            f"{c['unchanged']} unchanged, {c['rejected']} rejected\n"
        )
        for notice in self.notices:
            out.write(f"  note: {notice}\n")
        for kind in LISTED_KINDS:
            limit = None if kind == "rejected" else show
            shown = 0
            for row in self.rows(kind):
                if limit is not None and shown >= limit:
                    break
                out.write(_text_row(kind, row, self.format == "geojson") + "\n")
                shown += 1
            if shown < c[kind]:
                out.write(f"  ... and {c[kind] - shown} more {kind} (--report FILE lists all)\n")
        out.write(self.verdict() + "\n")

    def verdict(self) -> str:
        if self.dry_run:
            return "dry run: nothing written" + (
                " (the rejected rows above would stop the import)" if self.rejected else ""
            )
        if self.written:
            return "written in one transaction"
        if self.rejected:
            return "rejected: nothing written; correct the rows above and import again"
        return "nothing written"


def _text_row(kind: str, row: dict[str, Any], geojson: bool) -> str:
    line, number = row.get("line"), row.get("row")
    if number is None:
        where = "file" if line is None else f"line {line}"
    else:
        where = f"feature {number}" if geojson else f"line {line}"
    pole = row.get("pole_id") or "-"
    if kind == "rejected":
        return f"  rejected  {where:<11} {pole:<16} {row['reason']}"
    changes: dict[str, dict[str, Any]] = row.get("changes") or {}
    parts = []
    for name, change in changes.items():
        new = _shown(change.get("new"))
        parts.append(
            f"{name}: {new}"
            if kind == "created"
            else f"{name}: {_shown(change.get('old'))} -> {new}"
        )
    return f"  {kind:<9} {where:<11} {pole:<16} {', '.join(parts)}"


def _shown(value: Any) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, str) else repr(value)
    return text if len(text) <= VALUE_SHOWN_CHARS else text[: VALUE_SHOWN_CHARS - 3] + "..."
