"""Replaying recorded readings with their original timestamps.

Two formats:
- UBA air-quality CSV (German Environment Agency export, as in
  shared/data/uba-airquality-muenster): `;`-separated, hour-ending local
  time with DST quirks, `-` for missing; each station becomes one pole
  (`UBA-<station code>`) publishing env readings (pm10, no2, o3, pm25).
- JSON lines: `{"topic": ..., "payload": <object or array>}` per line, or
  `{"topic": ..., "raw": "<text sent as is>"}` to replay bytes that are not
  JSON (what `simulate fleet --record` writes). Optional `"retain": true`.

What the platform will make of each message is predicted with the same
decoder ingest uses (future timestamps judged against the replay's start).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from airquality.stations import UBA_COLUMNS, uba_hour_end
from models.readings import EnvReading
from models.topics import Family, PoleTopic, TopicError
from models.wire import DecodeLimits, decode_message
from simulators.generator import Action, ExpectedItem, Outgoing, quarantine_key

MAX_LINE_BYTES = 1024 * 1024


class ReplayError(ValueError):
    """The file cannot be replayed at all (wrong format, unreadable)."""


@dataclass(slots=True)
class ReplayReport:
    """Lines that could not become a message, with why (first few kept)."""

    skipped: int = 0
    empty_rows: int = 0
    problems: list[str] = field(default_factory=list)

    def skip(self, line_number: int, why: str) -> None:
        self.skipped += 1
        if len(self.problems) < 20:
            self.problems.append(f"line {line_number}: {why}")


def detect_format(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).lstrip(b"\xef\xbb\xbf").lstrip()
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if head.startswith(b"{"):
        return "jsonl"
    if b";" in head.split(b"\n", 1)[0] and b"station code" in head.lower():
        return "uba"
    raise ReplayError(f"{path}: neither UBA CSV nor JSON lines (use --format)")


# --- UBA CSV ------------------------------------------------------------------


def uba_messages(path: Path, report: ReplayReport, pole_prefix: str = "UBA") -> Iterator[Outgoing]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayError(f"{path}: cannot read: {exc}") from exc
    rows = csv.reader(io.StringIO(text), delimiter=";", quotechar='"')
    header = next(rows, None)
    if header is None or len(header) < 3 or header[0].strip().lower() != "station code":
        raise ReplayError(f"{path}: not a UBA export (first column must be 'Station code')")
    columns: dict[int, str] = {}
    for index, name in enumerate(header):
        for prefix, metric in UBA_COLUMNS.items():
            if name.strip().lower().startswith(prefix):
                columns[index] = metric
    if not columns:
        raise ReplayError(f"{path}: no pollutant columns (PM10, O3, NO2, PM2.5) in the header")
    previous: tuple[str, str, int] | None = None
    for line_number, row in enumerate(rows, start=2):
        if not "".join(row) or (len(row) == 1 and row[0].startswith("Source:")):
            continue
        try:
            label, pole, observed_at = _uba_row_time(row, previous, pole_prefix)
            previous = label
            values = _uba_values(row, columns)
            if not values:
                report.empty_rows += 1  # every value missing: the station sent nothing
                continue
            reading = EnvReading.model_validate({"date_observed": observed_at, **values})
        except (ValueError, IndexError, TopicError) as exc:
            report.skip(line_number, f"unusable row: {str(exc).splitlines()[0][:200]}")
            continue
        key = (pole.pole_id, Family.ENV, None, observed_at)
        yield Outgoing(
            observed_at, pole.pole_id, Action.PUBLISH, str(pole), orjson.dumps(reading.wire()),
            False, Family.ENV, (), (ExpectedItem(Family.ENV, True, key),),
        )  # fmt: skip


def _uba_row_time(
    row: list[str], previous: tuple[str, str, int] | None, pole_prefix: str
) -> tuple[tuple[str, str, int], PoleTopic, datetime]:
    station, when = row[0].strip(), row[1].strip().strip("'")
    date_text, _, hour_text = when.partition(" ")
    hour = int(hour_text.split(":")[0])
    if not 1 <= hour <= 24 or hour_text[-3:] != ":00":
        raise ValueError(f"hour {hour_text[:20]!r} outside 01:00-24:00")
    label = (station, date_text, hour)
    observed_at = uba_hour_end(date_text, hour, second_occurrence=label == previous)
    return label, PoleTopic(f"{pole_prefix}-{station}"[:64], Family.ENV), observed_at


def _uba_values(row: list[str], columns: dict[int, str]) -> dict[str, float]:
    values: dict[str, float] = {}
    for index, metric in columns.items():
        cell = row[index].strip() if index < len(row) else "-"
        if cell not in ("-", ""):
            try:
                values[metric] = float(cell)
            except ValueError:
                raise ValueError(f"{metric}: not a number: {cell[:20]!r}") from None
    return values


# --- JSON lines ---------------------------------------------------------------


def jsonl_messages(
    path: Path, report: ReplayReport, received_at: datetime, limits: DecodeLimits
) -> Iterator[Outgoing]:
    last_at = received_at
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read: {exc}") from exc
    with handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if len(line) > MAX_LINE_BYTES:
                report.skip(line_number, f"line longer than {MAX_LINE_BYTES} bytes")
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                report.skip(line_number, f"not JSON: {exc}")
                continue
            message = _record_message(record)
            if isinstance(message, str):
                report.skip(line_number, message)
                continue
            topic, payload, retain = message
            outgoing = predicted(
                topic, payload, retain, received_at=received_at, limits=limits, fallback_at=last_at
            )
            last_at = outgoing.at
            yield outgoing


def _record_message(record: Any) -> tuple[str, bytes, bool] | str:
    """(topic, payload, retain), or why the record cannot be replayed."""
    problem = _record_problem(record)
    if problem:
        return problem
    try:
        payload = record["raw"].encode() if "raw" in record else orjson.dumps(record["payload"])
    except (TypeError, UnicodeEncodeError) as exc:  # absurd nesting, lone surrogates
        return f"payload cannot be sent: {str(exc)[:100]}"
    return record["topic"], payload, record.get("retain", False)


def _record_problem(record: Any) -> str | None:
    if not isinstance(record, dict):
        return "a line must be a JSON object"
    topic = record.get("topic")
    if not isinstance(topic, str) or not topic or len(topic) > 65535:
        return "'topic' must be a non-empty string"
    if "#" in topic or "+" in topic or "\x00" in topic:
        return "'topic' must not contain wildcards or NUL (MQTT forbids them in PUBLISH)"
    if not isinstance(record.get("retain", False), bool):
        return "'retain' must be true or false"
    has_raw = "raw" in record
    if has_raw == ("payload" in record) or (has_raw and not isinstance(record["raw"], str)):
        return "needs either 'payload' (JSON) or 'raw' (a string), not both"
    return None


def predicted(
    topic: str,
    payload: bytes,
    retain: bool,
    *,
    received_at: datetime,
    limits: DecodeLimits,
    fallback_at: datetime,
) -> Outgoing:
    """A message with the platform's verdict on each reading, from ingest's decoder."""
    decoded = decode_message(topic, payload, received_at, limits)
    items: list[ExpectedItem] = []
    at: datetime | None = None
    pole = decoded.topic
    for reading in decoded.readings:
        assert pole is not None
        observed = reading.date_observed
        if observed is None:  # a last-will-like status: timed by its arrival
            items.append(ExpectedItem(pole.family, True, last_will=True))
            continue
        at = observed if at is None else min(at, observed)
        key = (pole.pole_id, pole.family, pole.connector_id, observed.astimezone(UTC))
        items.append(ExpectedItem(pole.family, True, stored_key=key))
    for rejection in decoded.rejections:
        items.append(
            ExpectedItem(
                pole.family if pole else Family.STATUS,
                False,
                quarantine_key=quarantine_key(topic, rejection.raw, rejection.item_index),
            )
        )
    family = pole.family if pole else Family.STATUS
    return Outgoing(
        at or fallback_at, pole.pole_id if pole else "", Action.PUBLISH, topic, payload,
        retain, family, (), tuple(items),
    )  # fmt: skip


def record_line(outgoing: Outgoing) -> bytes | None:
    """One JSON line for `--record`, replayable with `simulate replay`.
    A last-will is the broker's doing, not a message: it is not recorded."""
    if outgoing.action is Action.DROP:
        return None
    record: dict[str, Any] = {"topic": outgoing.topic}
    try:
        record["payload"] = orjson.loads(outgoing.payload)
    except orjson.JSONDecodeError:
        record["raw"] = outgoing.payload.decode("utf-8", errors="replace")
    if outgoing.retain:
        record["retain"] = True
    return orjson.dumps(record) + b"\n"
