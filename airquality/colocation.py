"""Co-location: how a pole's daily means compare with a nearby reference station's."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


@dataclass(frozen=True, slots=True)
class Comparison:
    days_compared: int
    days_in_period: int
    bias: float | None  # mean of pole - station
    rmse: float | None
    r2: float | None  # squared Pearson correlation
    pole_mean: float | None
    station_mean: float | None

    @property
    def capture(self) -> float:
        return self.days_compared / self.days_in_period if self.days_in_period else 0.0


def compare(
    pole: Mapping[date, float], station: Mapping[date, float], days_in_period: int
) -> Comparison:
    days = sorted(set(pole) & set(station))
    if not days:
        return Comparison(0, days_in_period, None, None, None, None, None)
    x = [pole[d] for d in days]
    y = [station[d] for d in days]
    n = len(days)
    diffs = [a - b for a, b in zip(x, y, strict=True)]
    mx, my = math.fsum(x) / n, math.fsum(y) / n
    sxx = math.fsum((a - mx) ** 2 for a in x)
    syy = math.fsum((b - my) ** 2 for b in y)
    sxy = math.fsum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    r2 = sxy * sxy / (sxx * syy) if sxx > 0 and syy > 0 else None
    return Comparison(
        n,
        days_in_period,
        math.fsum(diffs) / n,
        math.sqrt(math.fsum(d * d for d in diffs) / n),
        r2,
        mx,
        my,
    )
