"""Streaming readers of inventory files: CSV rows and GeoJSON features, each with
the line it starts on, read in bounded memory whatever the file's size.

Bytes are decoded strictly (UTF-8 with or without BOM by default, or the
encoding asked for); a byte that is not valid in it stops the import with the
line number, never a replacement character. What makes the rest of the file
unreadable (encoding, structure) raises `FileError`; what concerns one row
only is left to the row's own checks.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

MAX_LINE_BYTES = 1024 * 1024
MAX_FEATURE_BYTES = 1024 * 1024
CHUNK_BYTES = 256 * 1024
ENCODINGS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "cp1252": "cp1252",
    "windows-1252": "cp1252",
    "iso-8859-15": "iso-8859-15",
    "latin-9": "iso-8859-15",
}
DELIMITERS = (";", ",", "\t")
UTF8_BOM = codecs.BOM_UTF8
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
NO_GEOMETRY = object()
_NOT_WHITESPACE = re.compile(r"[^ \t\r\n]")


class FileError(Exception):
    """The file cannot be read on from here; `line` is where (None: the whole file)."""

    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def codec(name: str) -> str:
    try:
        return ENCODINGS[name.strip().lower()]
    except KeyError:
        raise FileError(None, f"unsupported encoding {name[:40]!r} (use utf-8 or cp1252)") from None


@dataclass(slots=True)
class RawRow:
    """One row of the file as written: values by the file's own keys."""

    line: int
    number: int  # the row's (feature's) ordinal in the file, from 1
    values: dict[str, Any]
    geometry: Any = NO_GEOMETRY  # GeoJSON only; None for a null geometry
    feature_id: Any = None
    problem: str | None = None  # a feature that is not a Feature


class Digest:
    """A binary stream that remembers the SHA-256 and size of what was read."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self._saw(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self.stream.readline(size)
        self._saw(data)
        return data

    def drain(self) -> None:
        """Read the rest, so the digest covers the whole file."""
        while self.read(CHUNK_BYTES):
            pass

    def _saw(self, data: bytes) -> None:
        self.sha256.update(data)
        self.size += len(data)


def _decode_error(exc: UnicodeDecodeError, encoding: str, column: int | None) -> str:
    bad = exc.object[exc.start : exc.start + 1].hex().upper()
    hint = (
        "; a file saved by Excel or an older GIS is often Windows-1252: try --encoding cp1252"
        if encoding == "utf-8"
        else ""
    )
    where = "" if column is None else f" at column {column}"
    return f"byte 0x{bad}{where} is not valid {encoding}{hint}"


class CsvSource:
    """A CSV file: `;`, `,` or tab separated (detected from the header unless
    given), quoted fields may span lines."""

    def __init__(
        self,
        stream: Digest,
        encoding: str = "utf-8",
        delimiter: str | None = None,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self.stream = stream
        self.encoding = codec(encoding)
        self.max_line_bytes = max_line_bytes
        self._lines = self._decoded_lines()
        first = next(self._lines, None)
        if first is None or not first.strip():
            raise FileError(1, "the file is empty or its first line is; line 1 must be the header")
        if delimiter is not None and delimiter not in DELIMITERS:
            raise FileError(None, "the delimiter must be ';', ',' or a tab")
        self.delimiter = delimiter or _detect_delimiter(first)
        try:
            header = next(csv.reader([first], delimiter=self.delimiter, strict=True), [])
        except csv.Error as exc:  # e.g. a quote inside an unquoted name
            raise FileError(1, f"the header is not readable as CSV: {exc}") from None
        names = [name.strip() for name in header]
        while names and not names[-1]:
            names.pop()  # Excel writes a delimiter at the end of every line
        for number, name in enumerate(names, 1):
            if not name:
                raise FileError(1, f"column {number} of the header has no name")
        seen: set[str] = set()
        for name in names:
            if name.casefold() in seen:
                raise FileError(1, f"the header names column {name!r} twice")
            seen.add(name.casefold())
        self.header = names

    def _decoded_lines(self) -> Iterator[str]:
        number = 0
        while True:
            raw = self.stream.readline(self.max_line_bytes + 1)
            if not raw:
                return
            number += 1
            if len(raw) > self.max_line_bytes:
                raise FileError(
                    number, f"line {number} is longer than {self.max_line_bytes // 1024} KiB"
                )
            if number == 1:
                if raw.startswith(UTF16_BOMS):
                    raise FileError(1, "the file is UTF-16; save it as UTF-8 (or Windows-1252)")
                if raw.startswith(UTF8_BOM):
                    if self.encoding != "utf-8":
                        raise FileError(
                            1,
                            f"the file starts with a UTF-8 byte order mark but --encoding is "
                            f"{self.encoding}; drop --encoding",
                        )
                    raw = raw[len(UTF8_BOM) :]
            if b"\x00" in raw:
                raise FileError(number, "the line contains NUL bytes: not a text file (UTF-16?)")
            try:
                text = raw.decode(self.encoding)
            except UnicodeDecodeError as exc:
                column = len(raw[: exc.start].decode(self.encoding, errors="replace")) + 1
                raise FileError(number, _decode_error(exc, self.encoding, column)) from None
            if self.encoding != "utf-8" and not raw.isascii() and _is_utf8(raw):
                raise FileError(
                    number,
                    f"the line is valid UTF-8 but --encoding is {self.encoding}: it would be "
                    "read as mojibake (Ã¤ for ä); drop --encoding",
                )
            yield text

    def rows(self) -> Iterator[RawRow]:
        reader = csv.reader(self._lines, delimiter=self.delimiter, strict=True)
        width = len(self.header)
        number = 0
        while True:
            start = reader.line_num + 2  # the header was line 1, read outside the reader
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise FileError(start, f"not readable as CSV: {exc}") from None
            if not any(cell.strip() for cell in cells):
                continue  # an empty line, or only delimiters
            number += 1
            problem = None
            if len(cells) > width and any(c.strip() for c in cells[width:]):
                problem = (
                    f"the row has {len(cells)} fields, the header {width}: a value with the "
                    f"delimiter {self.delimiter!r} in it (a decimal comma in a ','-separated "
                    "file?) must be quoted"
                )
            elif len(cells) < width:
                problem = f"the row has {len(cells)} fields, the header {width}"
            values = dict(zip(self.header, cells, strict=False))
            yield RawRow(start, number, values, problem=problem)


def _detect_delimiter(header: str) -> str:
    best, most = ",", 1
    for candidate in DELIMITERS:
        fields = next(csv.reader([header], delimiter=candidate), [])
        if len(fields) > most:
            best, most = candidate, len(fields)
    return best


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {key[:60]!r} appears twice in one object")
            seen.add(key)
    return result


@dataclass(slots=True)
class _Buffer:
    text: str = ""
    pos: int = 0
    line_at_start: int = 1  # line number of text[0]
    counted_pos: int = 0
    counted_line: int = 1

    def line_of(self, pos: int) -> int:
        if pos < self.counted_pos:
            return self.line_at_start + self.text.count("\n", 0, pos)
        self.counted_line += self.text.count("\n", self.counted_pos, pos)
        self.counted_pos = pos
        return self.counted_line


@dataclass
class GeoJsonSource:
    """A GeoJSON FeatureCollection, one feature at a time: only the feature being
    read (at most `max_feature_bytes`) and one chunk are held."""

    stream: Digest
    encoding: str = "utf-8"
    max_feature_bytes: int = MAX_FEATURE_BYTES
    members: dict[str, Any] = field(default_factory=dict)
    features_started: bool = False

    def __post_init__(self) -> None:
        name = codec(self.encoding)
        self._decoder = codecs.getincrementaldecoder("utf-8-sig" if name == "utf-8" else name)(
            errors="strict"
        )
        self._codec = name
        self._buf = _Buffer()
        self._eof = False
        self._json = json.JSONDecoder(
            parse_constant=_no_constants, object_pairs_hook=_no_duplicate_keys
        )

    # --- the buffer ---------------------------------------------------------------

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = self.stream.read(CHUNK_BYTES)
        buf = self._buf
        if buf.pos > CHUNK_BYTES:  # drop what was consumed
            consumed_lines = buf.text.count("\n", 0, buf.pos)
            buf.line_at_start += consumed_lines
            buf.text = buf.text[buf.pos :]
            buf.counted_pos, buf.counted_line = 0, buf.line_at_start
            buf.pos = 0
        try:
            buf.text += self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            line = buf.line_at_start + buf.text.count("\n") + chunk[: exc.start].count(b"\n")
            raise FileError(line, _decode_error(exc, self._codec, None)) from None
        if not chunk:
            self._eof = True
        return True

    def _peek(self) -> str:
        """The next character that is not JSON whitespace ("" at the end)."""
        buf = self._buf
        while True:
            found = _NOT_WHITESPACE.search(buf.text, buf.pos)
            if found is not None:
                buf.pos = found.start()
                return buf.text[buf.pos]
            buf.pos = len(buf.text)
            if not self._fill():
                return ""

    def _expect(self, char: str, what: str) -> None:
        found = self._peek()
        if found != char:
            shown = repr(found) if found else "the end of the file"
            raise FileError(self._line(), f"invalid JSON: expected {char!r} {what}, found {shown}")
        self._buf.pos += 1

    def _line(self) -> int:
        return self._buf.line_of(self._buf.pos)

    def _value(self, max_bytes: int, what: str) -> Any:
        """The next JSON value, reading more until it is complete."""
        self._peek()
        buf = self._buf
        while True:
            try:
                value, end = self._json.raw_decode(buf.text, buf.pos)
            except json.JSONDecodeError as exc:
                near_end = exc.pos >= len(buf.text) - 16 or exc.msg.startswith("Unterminated")
                if self._eof or not near_end:
                    raise FileError(buf.line_of(exc.pos), f"invalid JSON: {exc.msg}") from None
                if len(buf.text) - buf.pos > max_bytes:
                    raise FileError(
                        self._line(), f"{what} is larger than {max_bytes // 1024} KiB"
                    ) from None
                self._fill()
                continue
            except RecursionError:
                raise FileError(self._line(), f"{what} is nested too deeply") from None
            except ValueError as exc:  # NaN, a duplicate key, a 5000-digit number
                raise FileError(self._line(), f"invalid JSON in {what}: {exc}") from None
            if end == len(buf.text) and not self._eof:  # a number may go on in the next chunk
                self._fill()
                continue
            if end - buf.pos > max_bytes:
                raise FileError(self._line(), f"{what} is larger than {max_bytes // 1024} KiB")
            buf.pos = end
            return value

    # --- the document ------------------------------------------------------------------

    def features(self) -> Iterator[RawRow]:
        first = self._peek()
        if first == "":
            raise FileError(1, "the file is empty")
        if first != "{":
            kind = "a JSON array" if first == "[" else "not JSON"
            raise FileError(1, f"{kind}, not a GeoJSON FeatureCollection")
        self._buf.pos += 1
        count = 0
        while True:
            if self._peek() == "}":
                self._buf.pos += 1
                break
            if count:
                self._expect(",", "between members")
            count += 1
            line = self._line()
            key = self._value(4096, "a member name")
            if not isinstance(key, str):
                raise FileError(line, "invalid JSON: a member name must be a string")
            self._expect(":", "after a member name")
            if key in self.members or (key == "features" and self.features_started):
                raise FileError(line, f"the member {key[:60]!r} appears twice")
            if key == "features":
                self.features_started = True
                yield from self._feature_array()
                continue
            self._member(key, line)
        if self._peek() != "":
            raise FileError(self._line(), "text after the end of the FeatureCollection")
        if self.members.get("type") != "FeatureCollection":
            raise FileError(1, 'not a GeoJSON FeatureCollection (no "type": "FeatureCollection")')
        if not self.features_started:
            raise FileError(1, 'the FeatureCollection has no "features"')

    def _member(self, key: str, line: int) -> None:
        value = self._value(self.max_feature_bytes, f"the member {key[:60]!r}")
        if key == "type" and value != "FeatureCollection":
            raise FileError(line, f"a GeoJSON {str(value)[:40]}, not a FeatureCollection")
        if key == "crs" and self.features_started:
            raise FileError(line, "the crs member must come before the features")
        self.members[key] = value

    def _feature_array(self) -> Iterator[RawRow]:
        self._expect("[", "after features")
        number = 0
        while True:
            if self._peek() == "]":
                self._buf.pos += 1
                return
            if number:
                self._expect(",", "between features")
            number += 1
            self._peek()
            line = self._line()
            feature = self._value(self.max_feature_bytes, f"feature {number}")
            yield _feature_row(line, number, feature)


def _feature_row(line: int, number: int, feature: Any) -> RawRow:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        kind = feature.get("type") if isinstance(feature, dict) else type(feature).__name__
        return RawRow(line, number, {}, problem=f"a {str(kind)[:40]}, not a Feature")
    props = feature.get("properties")
    if props is not None and not isinstance(props, dict):
        return RawRow(line, number, {}, problem="the properties must be an object")
    if "geometry" not in feature:
        return RawRow(line, number, {}, problem="no geometry member (null if it has none)")
    return RawRow(line, number, dict(props or {}), feature["geometry"], feature.get("id"))
