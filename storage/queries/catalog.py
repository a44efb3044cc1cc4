"""Which metrics of which family can be read as a series, and where they live.

The public metric names are the storage column names (snake case); the map
from a name a client sends to a column is this whitelist, so nothing a client
sends ever reaches SQL as an identifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from models.readings import ENV_METRICS
from models.topics import Family
from storage.tables import READING_TABLES

Interval = Literal["raw", "5min", "hour", "day", "month"]
Aggregate = Literal["avg", "min", "max", "sum", "count"]
INTERVALS: tuple[Interval, ...] = ("raw", "5min", "hour", "day", "month")
AGGREGATES: tuple[Aggregate, ...] = ("avg", "min", "max", "sum", "count")


@dataclass(frozen=True, slots=True)
class Metric:
    family: Family
    name: str
    unit: str
    description: str
    # Sound levels are logarithmic: their mean is taken on energy, not on dB.
    energetic: bool = False

    @property
    def table(self) -> str:
        return READING_TABLES[self.family]

    @property
    def column(self) -> str:
        return self.name

    @property
    def has_hourly_rollup(self) -> bool:
        return self.family is Family.ENV


_ENV_UNITS = {
    "pm25": ("µg/m³", "PM2.5 concentration"),
    "pm10": ("µg/m³", "PM10 concentration"),
    "no2": ("µg/m³", "Nitrogen dioxide concentration"),
    "o3": ("µg/m³", "Ozone concentration"),
    "temperature": ("°C", "Air temperature"),
    "relative_humidity": ("%", "Relative humidity"),
    "atmospheric_pressure": ("hPa", "Air pressure"),
    "laeq": ("dB(A)", "A-weighted equivalent sound level (averaged on energy)"),
    "lamax": ("dB(A)", "A-weighted maximum sound level"),
}
assert set(_ENV_UNITS) == set(ENV_METRICS)

_ALL: tuple[Metric, ...] = (
    *(
        Metric(Family.ENV, name, unit, text, energetic=name == "laeq")
        for name, (unit, text) in _ENV_UNITS.items()
    ),
    Metric(Family.LIGHT, "active_power", "W", "Lamp power draw"),
    Metric(Family.LIGHT, "illuminance_level", "1", "Dim level, 0 (off) to 1 (full)"),
    Metric(Family.LIGHT, "total_active_energy_import", "kWh", "Lamp energy meter"),
    Metric(Family.WIFI, "connected_clients", "clients", "Clients connected to the hotspot"),
    Metric(Family.WIFI, "bytes_in", "bytes", "Bytes received since boot (counter)"),
    Metric(Family.WIFI, "bytes_out", "bytes", "Bytes sent since boot (counter)"),
    Metric(Family.EV, "charging_power", "kW", "Power delivered by the connector"),
    Metric(Family.EV, "total_active_energy_import", "kWh", "Connector energy meter"),
)

SERIES_METRICS: dict[Family, dict[str, Metric]] = {}
for _metric in _ALL:
    SERIES_METRICS.setdefault(_metric.family, {})[_metric.name] = _metric

SERIES_FAMILIES: tuple[Family, ...] = tuple(SERIES_METRICS)


def find_metric(family: Family, name: str) -> Metric | None:
    return SERIES_METRICS.get(family, {}).get(name)
