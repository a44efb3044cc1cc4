"""Per-pole linear corrections, fitted against a reference station and applied at read time.

The model is the one the US EPA's PurpleAir correction uses (Barkjohn et al. 2021, AMT 14,
4617: PM2.5 = 0.524 x PA - 0.0862 x RH + 5.75):

    corrected = intercept + slope x raw  [+ humidity_coefficient x RH]

fitted by ordinary least squares on co-located daily means (pole raw, pole RH, station).
Because it is linear, correcting an hourly mean equals the mean of the corrected readings
(when RH is present for the hour): it is applied to the hourly rollup, exactly, and the
raw rows are never changed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


class CalibrationError(ValueError):
    """Too few or degenerate co-located days to fit a correction."""


@dataclass(frozen=True, slots=True)
class Correction:
    intercept: float
    slope: float
    humidity_coefficient: float | None = None

    def apply(self, raw: float, humidity: float | None) -> float | None:
        """The corrected value; None when the correction needs a humidity the hour lacks."""
        value = self.intercept + self.slope * raw
        if self.humidity_coefficient is not None:
            if humidity is None:
                return None
            value += self.humidity_coefficient * humidity
        return max(value, 0.0)  # a concentration is never negative


@dataclass(frozen=True, slots=True)
class Fit:
    correction: Correction
    days: int
    r2: float  # of the corrected pole values against the station
    rmse: float


@dataclass(frozen=True, slots=True)
class Pair:
    raw: float
    reference: float
    humidity: float | None = None


MIN_DAYS = 7


def fit(pairs: Sequence[Pair], *, humidity: bool) -> Fit:
    rows = [p for p in pairs if not humidity or p.humidity is not None]
    columns = 3 if humidity else 2
    if len(rows) < max(MIN_DAYS, columns + 1):
        raise CalibrationError(f"{len(rows)} co-located days; at least {MIN_DAYS} needed")
    x = [[1.0, p.raw, p.humidity or 0.0][:columns] for p in rows]
    y = [p.reference for p in rows]
    beta = _least_squares(x, y)
    correction = Correction(beta[0], beta[1], beta[2] if humidity else None)
    predicted = [
        correction.intercept + sum(b * v for b, v in zip(beta[1:], r[1:], strict=True)) for r in x
    ]
    residual = math.fsum((a - b) ** 2 for a, b in zip(y, predicted, strict=True))
    mean = math.fsum(y) / len(y)
    total = math.fsum((v - mean) ** 2 for v in y)
    return Fit(
        correction,
        len(rows),
        1.0 - residual / total if total > 0 else 0.0,
        math.sqrt(residual / len(rows)),
    )


def _least_squares(x: list[list[float]], y: list[float]) -> list[float]:
    """Solve the normal equations (X'X) b = X'y by Gaussian elimination with pivoting."""
    n = len(x[0])
    a = [[math.fsum(r[i] * r[j] for r in x) for j in range(n)] for i in range(n)]
    b = [math.fsum(r[i] * v for r, v in zip(x, y, strict=True)) for i in range(n)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-12:
            raise CalibrationError("co-located values do not vary enough to fit a correction")
        a[col], a[pivot] = a[pivot], a[col]
        b[col], b[pivot] = b[pivot], b[col]
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            for c in range(col, n):
                a[r][c] -= factor * a[col][c]
            b[r] -= factor * b[col]
    beta = [0.0] * n
    for r in range(n - 1, -1, -1):
        beta[r] = (b[r] - sum(a[r][c] * beta[c] for c in range(r + 1, n))) / a[r][r]
    return beta
