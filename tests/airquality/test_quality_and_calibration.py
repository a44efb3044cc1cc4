"""Quality flags (one test per flag) and the calibration fit, on synthetic hourly data."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from airquality.calibration import CalibrationError, Correction, Pair, fit
from airquality.colocation import compare, distance_m
from airquality.quality import HourStat, flag_hours
from models.catalogue.air_quality import HUMIDITY_LIMIT_PERCENT, QualityFlag

H = timedelta(hours=1)
T0 = datetime(2023, 5, 1, tzinfo=UTC)


def noisy(n: int, seed: int = 1, base: float = 20.0) -> dict[datetime, HourStat]:
    rng = random.Random(seed)
    return {
        T0 + i * H: HourStat(v := base + rng.uniform(-3, 3), 60, v - 1, v + 1) for i in range(n)
    }


def flags_of(metric: str, hours: dict[datetime, HourStat], **kw: object) -> dict[datetime, set]:
    return flag_hours(metric, hours, **kw)  # type: ignore[arg-type]


def test_clean_noise_carries_no_flag() -> None:
    assert flags_of("pm10", noisy(72), humidity={T0 + i * H: 50.0 for i in range(72)}) == {}


def test_humid_hours_flag_optical_pm_only() -> None:
    hours = noisy(10)
    humidity = {h: 50.0 for h in hours}
    humidity[T0 + 3 * H] = HUMIDITY_LIMIT_PERCENT + 0.1
    humidity[T0 + 4 * H] = HUMIDITY_LIMIT_PERCENT  # at the limit: not over
    assert flags_of("pm25", hours, humidity=humidity) == {T0 + 3 * H: {QualityFlag.HUMIDITY}}
    assert flags_of("no2", hours, humidity=humidity) == {}


def test_six_identical_hours_are_a_flat_line_five_are_not() -> None:
    hours = noisy(30)
    for i in range(10, 16):
        hours[T0 + i * H] = HourStat(17.0, 1)
    assert {h for h, f in flags_of("no2", hours).items() if QualityFlag.FLATLINE in f} == {
        T0 + i * H for i in range(10, 16)
    }
    hours[T0 + 15 * H] = HourStat(18.0, 1)
    assert not any(QualityFlag.FLATLINE in f for f in flags_of("no2", hours).values())


def test_an_hour_of_identical_readings_is_stuck() -> None:
    hours = noisy(10)
    hours[T0 + 5 * H] = HourStat(20.0, 60, 20.0, 20.0)
    assert flags_of("o3", hours)[T0 + 5 * H] == {QualityFlag.FLATLINE}


def test_a_spike_is_found_by_the_hampel_filter() -> None:
    hours = noisy(24)
    hours[T0 + 12 * H] = HourStat(60.0, 60, 55.0, 65.0)  # 40 over a median of ~20
    assert QualityFlag.SPIKE in flags_of("no2", hours)[T0 + 12 * H]
    hours[T0 + 12 * H] = HourStat(29.0, 60, 28.0, 30.0)  # beyond 3 sigma, below 10 µg/m³
    assert T0 + 12 * H not in flags_of("no2", hours)


def test_an_implausible_jump_is_flagged() -> None:
    hours = noisy(10)
    for i in range(5, 10):
        hours[T0 + i * H] = HourStat(200.0 + i, 60, 190.0, 210.0)  # a level shift, not a spike
    flagged = flags_of("pm25", hours)
    assert flagged[T0 + 5 * H] == {QualityFlag.JUMP}
    assert T0 + 6 * H not in flagged


def test_the_fit_recovers_a_known_bias_and_humidity_effect() -> None:
    # The pole reads 1.4 x reference + 0.25 x RH - 3, plus noise: the correction that maps
    # raw back to the reference is 1/1.4 x raw - 0.25/1.4 x RH + 3/1.4.
    rng = random.Random(7)
    pairs = []
    for _ in range(60):
        reference, rh = rng.uniform(5, 60), rng.uniform(30, 95)
        raw = 1.4 * reference + 0.25 * rh - 3 + rng.gauss(0, 0.5)
        pairs.append(Pair(raw, reference, rh))
    result = fit(pairs, humidity=True)
    c = result.correction
    assert c.slope == pytest.approx(1 / 1.4, rel=0.02)
    assert c.humidity_coefficient == pytest.approx(-0.25 / 1.4, rel=0.05)
    assert c.intercept == pytest.approx(3 / 1.4, abs=0.5)
    assert result.r2 > 0.99
    plain = fit(pairs, humidity=False)
    assert plain.correction.humidity_coefficient is None and plain.rmse > result.rmse


def test_a_fit_needs_enough_varied_days() -> None:
    with pytest.raises(CalibrationError):
        fit([Pair(10.0, 5.0, 50.0)] * 3, humidity=True)
    with pytest.raises(CalibrationError):
        fit([Pair(10.0, 5.0, 50.0)] * 20, humidity=True)


def test_a_correction_needs_the_humidity_it_was_fitted_with() -> None:
    c = Correction(2.0, 0.5, -0.1)
    assert c.apply(20.0, 50.0) == pytest.approx(7.0)
    assert c.apply(20.0, None) is None
    assert Correction(-10.0, 0.5).apply(4.0, None) == 0.0  # never negative


def test_comparison_figures() -> None:
    days = {datetime(2023, 1, d, tzinfo=UTC).date(): float(d) for d in range(1, 11)}
    station = {d: v - 2.0 for d, v in days.items()}
    result = compare(days, station, 20)
    assert result.bias == pytest.approx(2.0) and result.rmse == pytest.approx(2.0)
    assert result.r2 == pytest.approx(1.0) and result.capture == 0.5
    assert 111_000 < distance_m(51.0, 7.0, 52.0, 7.0) < 111_400
