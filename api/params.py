"""Query parameters shared by many endpoints, and their precise validation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, TypeAlias
from zoneinfo import ZoneInfo

from fastapi import Path, Query

from api.problems import bad_parameter
from models.catalogue.families import FAMILIES, METRIC_FAMILIES
from models.topics import POLE_ID_PATTERN, Family

# Parameter enums generated from the catalogue: the OpenAPI document lists
# exactly the families that have what the endpoint serves.
if TYPE_CHECKING:
    MetricFamily: TypeAlias = Family
    SingleReadingFamily: TypeAlias = Family
else:
    # Families with a numeric series (status has none).
    MetricFamily = StrEnum("MetricFamily", {f.name: f.value for f in METRIC_FAMILIES})
    # Families with one newest reading per pole (ev has one per connector).
    SingleReadingFamily = StrEnum(
        "SingleReadingFamily",
        {f.name: f.value for f in METRIC_FAMILIES if not FAMILIES[f].has_connector},
    )


def as_family(value: StrEnum) -> Family:
    return Family(value.value)


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_LIMIT = 10_000

PoleIdPath = Annotated[
    str,
    Path(
        description="Pole id: 1-64 characters of A-Z a-z 0-9 _ -, starting with a letter or digit.",
        pattern=f"^{POLE_ID_PATTERN.pattern}$",
        examples=["CR-0001"],
    ),
]
PoleQuery = Annotated[
    str | None, Query(pattern=f"^{POLE_ID_PATTERN.pattern}$", description="Only this pole")
]
# Free text filters: printable, no control characters (PostgreSQL text cannot hold NUL).
SAFE_TEXT = r"^[^\x00-\x1f\x7f]{1,100}$"
DistrictQuery = Annotated[
    str | None,
    Query(description="Only poles in this district.", pattern=SAFE_TEXT, examples=["Mitte"]),
]
LimitQuery = Annotated[
    int | None,
    Query(
        ge=1, le=MAX_LIMIT, description="Items per page (default from settings).", examples=[100]
    ),
]
CursorQuery = Annotated[
    str | None,
    Query(
        max_length=1024,
        description="Opaque keyset cursor: pass the `next` link of the previous page.",
    ),
]
TzQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description="IANA time zone of buckets and returned times (default: the server's, "
        "Europe/Berlin unless configured).",
        examples=["Europe/Berlin"],
    ),
]
FromQuery = Annotated[
    datetime | None,
    Query(
        alias="from",
        description="Start of the range (inclusive), ISO 8601; without an offset it is local "
        "time in `tz`.",
        examples=["2026-03-28T00:00:00+01:00"],
    ),
]
ToQuery = Annotated[
    datetime | None,
    Query(
        alias="to",
        description="End of the range (exclusive), ISO 8601; default now.",
        examples=["2026-03-31T00:00:00+02:00"],
    ),
]


class TimeZones:
    """The zones both Python and the database know; anything else is a 422."""

    def __init__(self, known: frozenset[str], default: str) -> None:
        self.known = known
        self.default = default

    def resolve(self, name: str | None) -> str:
        if name is None:
            return self.default
        if name not in self.known:
            raise bad_parameter(
                "tz",
                f"unknown time zone {name[:64]!r}; use an IANA name such as Europe/Berlin or UTC",
            )
        try:
            ZoneInfo(name)
        except (ValueError, OSError):
            raise bad_parameter("tz", f"unknown time zone {name[:64]!r}") from None
        return name


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: datetime
    end: datetime


def _aware(name: str, value: datetime, tz: str) -> datetime:
    # Check the year before any arithmetic: 9999-12-31T23:59-12:00 would overflow.
    if not EARLIEST.year <= value.year < LATEST.year:
        raise bad_parameter(name, f"must lie between {EARLIEST:%Y} and {LATEST:%Y}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz))
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise bad_parameter(name, f"must lie between {EARLIEST:%Y} and {LATEST:%Y}") from None


def time_range(
    start: datetime | None,
    end: datetime | None,
    tz: str,
    default_span: timedelta,
    now: datetime | None = None,
) -> TimeRange:
    now = now or datetime.now(UTC)
    end_utc = _aware("to", end, tz) if end is not None else now
    start_utc = _aware("from", start, tz) if start is not None else end_utc - default_span
    start_utc = max(start_utc, EARLIEST)
    if start_utc >= end_utc:
        raise bad_parameter(
            "from",
            f"the range is empty: from ({start_utc.isoformat()}) must be before to "
            f"({end_utc.isoformat()})",
        )
    return TimeRange(start_utc, end_utc)


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """`minLon,minLat,maxLon,maxLat` (WGS 84, the GeoJSON order)."""
    parts = text.split(",")
    if len(parts) != 4:
        raise bad_parameter("bbox", "needs four numbers: minLon,minLat,maxLon,maxLat")
    try:
        min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
    except ValueError:
        raise bad_parameter("bbox", "needs four numbers: minLon,minLat,maxLon,maxLat") from None
    for value, low, high, label in (
        (min_lon, -180, 180, "minLon"),
        (max_lon, -180, 180, "maxLon"),
        (min_lat, -90, 90, "minLat"),
        (max_lat, -90, 90, "maxLat"),
    ):
        if not low <= value <= high:  # also false for NaN
            raise bad_parameter("bbox", f"{label} must be between {low} and {high}")
    if min_lon > max_lon or min_lat > max_lat:
        raise bad_parameter(
            "bbox", "min must not exceed max (boxes across the antimeridian are not supported)"
        )
    return min_lon, min_lat, max_lon, max_lat
