"""Reference-station exports: the UBA's CSV and the EEA's e-reporting (E1a/E2a) CSV.

Each parser yields the stations a file holds and their values as
(station_id, metric, averaging, period_start, period_end, value, verification) rows, with
the averaging period each value stands for: an hourly mean, a daily mean, or the UBA's
'daily average (hourly floating)' (a 24-hour running mean written every hour, kept as
such and never averaged again). Rows that cannot be used are counted with a reason.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from models.catalogue.air_quality import AveragingPeriod
from models.catalogue.families import ENV

UBA_TIMEZONE = ZoneInfo("Europe/Berlin")
# UBA column headers start with these words; the mapping does not depend on the exact
# (long, Unicode-subscripted) header text.
UBA_COLUMNS = {
    "particulate matter (pm₁₀)": "pm10",
    "ozone": "o3",
    "nitrogen dioxide": "no2",
    "particulate matter (pm₂,₅)": "pm25",
}
# EEA pollutant notations (http://dd.eionet.europa.eu/vocabulary/aq/pollutant) -> metric
EEA_POLLUTANTS = {"PM10": "pm10", "PM2.5": "pm25", "NO2": "no2", "O3": "o3"}
EEA_AVERAGING = {"hour": AveragingPeriod.HOUR, "day": AveragingPeriod.DAY}
EEA_UNITS = {
    "µg/m3",
    "ug/m3",
    "µg/m³",
    "ug.m-3",
    "http://dd.eionet.europa.eu/vocabulary/uom/concentration/ug.m-3",
}
EEA_REQUIRED = (
    "AirQualityStationEoICode",
    "AirPollutant",
    "AveragingTime",
    "Concentration",
    "UnitOfMeasurement",
    "DatetimeBegin",
    "DatetimeEnd",
)
STATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAXIMUM = max(ENV.field(m).maximum or 0.0 for m in EEA_POLLUTANTS.values())

ValueRow = tuple[str, str, str, datetime, datetime, float, int | None]


class StationFileError(ValueError):
    """The file is not a station export at all."""


@dataclass(slots=True)
class ImportReport:
    rows: list[ValueRow] = field(default_factory=list)
    stations: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: int = 0
    missing: int = 0  # cells the agency left empty ('-')
    problems: list[str] = field(default_factory=list)

    def skip(self, line: int, why: str) -> None:
        self.skipped += 1
        if len(self.problems) < 20:
            self.problems.append(f"line {line}: {why}")


def detect_format(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            first = handle.read(4096).lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].lower()
    except OSError as exc:
        raise StationFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if b";" in first and b"station code" in first:
        return "uba"
    if b"airqualitystationeoicode" in first:
        return "eea"
    raise StationFileError(f"{path}: neither a UBA CSV nor an EEA e-reporting CSV")


def parse(path: Path, fmt: str = "auto") -> ImportReport:
    chosen = detect_format(path) if fmt == "auto" else fmt
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise StationFileError(f"{path}: cannot read: {exc}") from exc
    report = ImportReport()
    if chosen == "uba":
        _parse_uba(path, text, report)
    elif chosen == "eea":
        _parse_eea(path, text, report)
    else:
        raise StationFileError(f"unknown format {chosen!r}")
    return report


# --- UBA ---------------------------------------------------------------------------------------


def uba_hour_end(date_text: str, label_hour: int, second_occurrence: bool) -> datetime:
    """The UTC end of an hour labelled in UBA's hour-ending local time.

    Label H on a date is the hour that started at (H-1):00 local time (label 24:00 is the
    last hour of that date). In the autumn the hour starting at 02:00 happens twice (CEST,
    then CET): the file lists its label 03:00 twice, and the second one is the CET hour
    (fold=1). In spring the hour starting at 02:00 does not exist and the file has no 03:00."""
    day = datetime.strptime(date_text, "%Y-%m-%d")  # a local wall date, zoned below
    start_local = (day + timedelta(hours=label_hour - 1)).replace(
        tzinfo=UBA_TIMEZONE, fold=1 if second_occurrence else 0
    )
    return start_local.astimezone(UTC) + timedelta(hours=1)


def uba_averaging(header: str) -> AveragingPeriod:
    text = header.lower()
    if "hourly floating" in text:
        return AveragingPeriod.DAY_HOURLY_FLOATING
    if "daily" in text:
        return AveragingPeriod.DAY
    return AveragingPeriod.HOUR


def uba_columns(header: list[str]) -> dict[int, tuple[str, AveragingPeriod]]:
    columns: dict[int, tuple[str, AveragingPeriod]] = {}
    for index, name in enumerate(header):
        for prefix, metric in UBA_COLUMNS.items():
            if name.strip().lower().startswith(prefix):
                columns[index] = (metric, uba_averaging(name))
    return columns


def _parse_uba(path: Path, text: str, report: ImportReport) -> None:
    rows = csv.reader(io.StringIO(text), delimiter=";", quotechar='"')
    header = next(rows, None)
    if header is None or len(header) < 3 or header[0].strip().lower() != "station code":
        raise StationFileError(f"{path}: not a UBA export (first column must be 'Station code')")
    columns = uba_columns(header)
    if not columns:
        raise StationFileError(f"{path}: no pollutant columns (PM10, O3, NO2, PM2.5)")
    national = re.search(r"station(\d+)", path.name)
    previous: tuple[str, str, int] | None = None
    for line, row in enumerate(rows, start=2):
        if not "".join(row) or (len(row) == 1 and row[0].startswith("Source:")):
            continue
        try:
            station = row[0].strip()
            if not STATION_ID.match(station):
                raise ValueError(f"station code {station[:20]!r}")
            date_text, _, hour_text = row[1].strip().strip("'").partition(" ")
            hour = int(hour_text.split(":")[0])
            if not 1 <= hour <= 24 or hour_text[-3:] != ":00":
                raise ValueError(f"hour {hour_text[:20]!r} outside 01:00-24:00")
            label = (station, date_text, hour)
            end = uba_hour_end(date_text, hour, second_occurrence=label == previous)
            previous = label
            values = []
            for index, (metric, averaging) in columns.items():
                cell = row[index].strip() if index < len(row) else "-"
                if cell in ("-", ""):
                    report.missing += 1
                    continue
                value = _concentration(cell)
                span = (
                    timedelta(days=1)
                    if averaging is not AveragingPeriod.HOUR
                    else timedelta(hours=1)
                )
                values.append((station, metric, averaging.value, end - span, end, value, None))
        except (ValueError, IndexError) as exc:
            report.skip(line, f"unusable row: {str(exc).splitlines()[0][:200]}")
            continue
        report.rows.extend(values)
        report.stations.setdefault(
            station,
            {
                "station_id": station,
                "eoi_code": station,
                "source": "uba",
                "national_id": national.group(1) if national else None,
            },
        )


def _concentration(cell: str) -> float:
    value = float(cell)
    if not 0.0 <= value <= MAXIMUM:  # also refuses nan and inf
        raise ValueError(f"value {cell[:20]!r} outside 0-{MAXIMUM:g}")
    return value


# --- EEA e-reporting ------------------------------------------------------------------------------


def _eea_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        raise ValueError(f"time without offset: {text[:40]!r}")
    return value.astimezone(UTC)


def _parse_eea(path: Path, text: str, report: ImportReport) -> None:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in EEA_REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise StationFileError(f"{path}: EEA CSV without columns {', '.join(missing)}")
    for line, record in enumerate(_records(reader), start=2):
        try:
            station = (record.get("AirQualityStationEoICode") or "").strip()
            if not STATION_ID.match(station):
                raise ValueError(f"station code {station[:20]!r}")
            metric = EEA_POLLUTANTS.get((record.get("AirPollutant") or "").strip())
            if metric is None:
                raise ValueError(f"pollutant {str(record.get('AirPollutant'))[:20]!r} not imported")
            averaging = EEA_AVERAGING.get((record.get("AveragingTime") or "").strip().lower())
            if averaging is None:
                raise ValueError(f"averaging time {str(record.get('AveragingTime'))[:20]!r}")
            unit = (record.get("UnitOfMeasurement") or "").strip()
            if unit not in EEA_UNITS:
                raise ValueError(f"unit {unit[:40]!r} (µg/m3 only)")
            begin = _eea_time(record.get("DatetimeBegin") or "")
            end = _eea_time(record.get("DatetimeEnd") or "")
            expected = (
                timedelta(hours=1) if averaging is AveragingPeriod.HOUR else timedelta(days=1)
            )
            if end - begin != expected:
                raise ValueError(
                    f"period {begin.isoformat()} - {end.isoformat()} is not one {averaging}"
                )
            validity = int(record.get("Validity") or 1)
            concentration = (record.get("Concentration") or "").strip()
            if validity < 1 or not concentration:
                report.missing += 1  # the agency marks it invalid or left it empty
                continue
            value = _concentration(concentration)
            verification = int(record["Verification"]) if record.get("Verification") else None
        except (ValueError, TypeError) as exc:
            report.skip(line, f"unusable row: {str(exc).splitlines()[0][:200]}")
            continue
        report.rows.append((station, metric, averaging.value, begin, end, value, verification))
        report.stations.setdefault(
            station,
            {
                "station_id": station,
                "eoi_code": station,
                "source": "eea",
                "national_id": (record.get("AirQualityStation") or "").strip()[:100] or None,
                "network": (record.get("AirQualityNetwork") or "").strip()[:100] or None,
            },
        )


def _records(reader: csv.DictReader[str]) -> Iterator[dict[str, Any]]:
    yield from reader
