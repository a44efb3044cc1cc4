"""Which metrics can be read as a series, and where they live: the catalogue's
metrics (`models.catalogue`) seen from the read side.

The public metric names are the storage column names (snake case); the map
from a name a client sends to a column is this whitelist, so nothing a client
sends ever reaches SQL as an identifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from models.catalogue.families import FAMILIES, METRIC_FAMILIES, FieldSpec
from models.topics import Family
from storage.readmodels.spec import energy_sum_column

Interval = Literal["raw", "5min", "hour", "day", "month"]
Aggregate = Literal["avg", "min", "max", "sum", "count"]
INTERVALS: tuple[Interval, ...] = ("raw", "5min", "hour", "day", "month")
AGGREGATES: tuple[Aggregate, ...] = ("avg", "min", "max", "sum", "count")


@dataclass(frozen=True, slots=True)
class Metric:
    family: Family
    spec: FieldSpec

    @property
    def name(self) -> str:
        return self.spec.column

    @property
    def column(self) -> str:
        return self.spec.column

    @property
    def table(self) -> str:
        return FAMILIES[self.family].table

    @property
    def unit(self) -> str:
        assert self.spec.unit is not None  # metrics have units
        return self.spec.unit.symbol

    @property
    def description(self) -> str:
        return self.spec.description

    @property
    def energetic(self) -> bool:
        """Logarithmic (dB): its mean is taken on energy, not on decibels."""
        return self.spec.energetic

    @property
    def energy_sum_column(self) -> str:
        return energy_sum_column(self.spec.column)


SERIES_METRICS: dict[Family, dict[str, Metric]] = {
    family: {f.column: Metric(family, f) for f in FAMILIES[family].metrics}
    for family in METRIC_FAMILIES
}
SERIES_FAMILIES: tuple[Family, ...] = METRIC_FAMILIES


def find_metric(family: Family, name: str) -> Metric | None:
    return SERIES_METRICS.get(family, {}).get(name)
