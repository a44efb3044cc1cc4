"""Quality flags on a pole's hourly means, computed at read time from the hourly rollup.

Why at read time and hourly: the official statistics are built from hourly means, so an
hour is the unit that is kept or excluded; the writer-kept rollup carries everything the
rules need (count, mean, min, max per metric, the hour's humidity), so no raw rows are
scanned and the ingest writer is not touched. The flags are a pure function of the rollup:
asking twice gives the same answer, and late data re-flags its hours on the next read.
Thresholds and their sources: `models.catalogue.air_quality` (QUALITY_RULES).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from models.catalogue.air_quality import (
    FLATLINE_MIN_HOURS,
    HAMPEL_HALF_WINDOW,
    HAMPEL_MIN_DEVIATION,
    HAMPEL_T0,
    HUMIDITY_LIMIT_PERCENT,
    MAX_HOURLY_STEP,
    OPTICAL_PM,
    QualityFlag,
)

HOUR = timedelta(hours=1)
MAD_TO_SIGMA = 1.4826  # Gaussian-consistent scale of the median absolute deviation


@dataclass(frozen=True, slots=True)
class HourStat:
    """One hour of one metric at one pole, as the hourly rollup keeps it."""

    mean: float
    readings: int
    minimum: float | None = None
    maximum: float | None = None


def flag_hours(
    metric: str,
    hours: Mapping[datetime, HourStat],
    humidity: Mapping[datetime, float] | None = None,
) -> dict[datetime, set[QualityFlag]]:
    """The flags of each flagged hour (keyed by the hour's UTC start)."""
    flags: dict[datetime, set[QualityFlag]] = {}

    def add(hour: datetime, flag: QualityFlag) -> None:
        flags.setdefault(hour, set()).add(flag)

    if metric in OPTICAL_PM and humidity:
        for hour in hours:
            rh = humidity.get(hour)
            if rh is not None and rh > HUMIDITY_LIMIT_PERCENT:
                add(hour, QualityFlag.HUMIDITY)
    for hour in flatlined(hours):
        add(hour, QualityFlag.FLATLINE)
    for hour in hampel_outliers({h: s.mean for h, s in hours.items()}):
        add(hour, QualityFlag.SPIKE)
    step = MAX_HOURLY_STEP.get(metric)
    if step is not None:
        for hour, stat in hours.items():
            previous = hours.get(hour - HOUR)
            if previous is not None and abs(stat.mean - previous.mean) > step:
                add(hour, QualityFlag.JUMP)
    return flags


def flatlined(hours: Mapping[datetime, HourStat]) -> set[datetime]:
    """Hours in a run of FLATLINE_MIN_HOURS consecutive hours with the same mean, and hours
    whose several readings were all identical."""
    stuck = {h for h, s in hours.items() if s.readings >= 2 and s.minimum == s.maximum}
    run: list[datetime] = []
    for hour in sorted(hours):
        if run and hour - run[-1] == HOUR and hours[hour].mean == hours[run[-1]].mean:
            run.append(hour)
        else:
            run = [hour]
        if len(run) >= FLATLINE_MIN_HOURS:
            stuck.update(run)
    return stuck


def hampel_outliers(values: Mapping[datetime, float]) -> set[datetime]:
    """Hampel identifier over consecutive hours: the hour and up to HAMPEL_HALF_WINDOW hours
    each side that are present; needs a full window to judge."""
    outliers: set[datetime] = set()
    for hour, value in values.items():
        window = [
            v
            for i in range(-HAMPEL_HALF_WINDOW, HAMPEL_HALF_WINDOW + 1)
            if (v := values.get(hour + i * HOUR)) is not None
        ]
        if len(window) < 2 * HAMPEL_HALF_WINDOW + 1:
            continue
        median = statistics.median(window)
        scale = MAD_TO_SIGMA * statistics.median(abs(v - median) for v in window)
        deviation = abs(value - median)
        if deviation > HAMPEL_T0 * scale and deviation > HAMPEL_MIN_DEVIATION:
            outliers.add(hour)
    return outliers
