"""How each part of a pole behaves over a day: plausible, seeded, cheap.

Values come from simple daily profiles (traffic, sun, activity) plus
weather-like noise. The weather is shared by the whole city (it rains on
every pole at once) and smooth in time; each pole adds its own small noise.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from models.sun import is_daylight, solar_elevation
from models.vocabulary import OcppErrorCode, OcppStatus


def _gauss_peak(hour: float, centre: float, width: float) -> float:
    return math.exp(-(((hour - centre) / width) ** 2) / 2)


def local_hour(local: datetime) -> float:
    return local.hour + local.minute / 60 + local.second / 3600


def traffic_intensity(local: datetime) -> float:
    """0..~1.1: rush hours on workdays, a flatter midday hump at weekends."""
    hour = local_hour(local)
    if local.weekday() >= 5:
        return 0.08 + 0.45 * _gauss_peak(hour, 14, 3.5)
    return (
        0.08
        + 0.9 * _gauss_peak(hour, 7.75, 1.1)
        + 0.8 * _gauss_peak(hour, 17.0, 1.6)
        + 0.35 * _gauss_peak(hour, 12.5, 2.5)
    )


def people_activity(local: datetime) -> float:
    """0..~1: people around a pole (Wi-Fi clients, EV arrivals)."""
    hour = local_hour(local)
    return 0.05 + 0.55 * _gauss_peak(hour, 12.5, 2.5) + 0.7 * _gauss_peak(hour, 18.5, 2.2)


class CityWeather:
    """Smooth, seeded city-wide noise in [-1, 1] per channel (hourly knots,
    cosine-interpolated): the same weather on every pole at a given time."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._knots: dict[tuple[str, int], float] = {}

    def _knot(self, channel: str, hour_index: int) -> float:
        key = (channel, hour_index)
        value = self._knots.get(key)
        if value is None:
            # A long-lived fleet run visits each knot once per channel; the
            # cache stays small because old hours are never asked for again.
            if len(self._knots) > 10_000:
                self._knots.clear()
            # Several hours of weather share a trend (fronts move slowly).
            slow = random.Random(f"{self.seed}:{channel}:{hour_index // 12}").uniform(-1, 1)
            fast = random.Random(f"{self.seed}:{channel}:{hour_index}").uniform(-1, 1)
            value = 0.7 * slow + 0.3 * fast
            self._knots[key] = value
        return value

    def value(self, channel: str, at: datetime) -> float:
        hours = at.timestamp() / 3600
        index = math.floor(hours)
        fraction = (1 - math.cos(math.pi * (hours - index))) / 2
        return (1 - fraction) * self._knot(channel, index) + fraction * self._knot(
            channel, index + 1
        )


@dataclass(slots=True)
class EnvSensor:
    """Air quality, weather and noise at one pole."""

    rng: random.Random
    weather: CityWeather
    latitude: float
    longitude: float
    traffic_exposure: float  # 0.5 (side street) .. 1.5 (main road)

    def measure(self, at: datetime, local: datetime) -> dict[str, float]:
        rng, weather = self.rng, self.weather
        hour = local_hour(local)
        traffic = traffic_intensity(local) * self.traffic_exposure
        day_of_year = local.timetuple().tm_yday
        seasonal = 10.0 - 8.5 * math.cos(2 * math.pi * (day_of_year - 20) / 365)
        diurnal = math.cos(2 * math.pi * (hour - 15) / 24)  # warmest mid-afternoon
        temperature = seasonal + 4.0 * diurnal + 3.5 * weather.value("temp", at) + rng.gauss(0, 0.2)
        humidity = 76 - 9 * diurnal - 12 * weather.value("dry", at) + rng.gauss(0, 1.0)
        no2 = 9 + 42 * traffic + 8 * weather.value("stagnant", at) + rng.gauss(0, 2.0)
        # Particles pile up in the night/morning inversion and with stagnant air.
        pm10 = (
            15
            + 5 * math.cos(2 * math.pi * (hour - 6) / 24)
            + 9 * weather.value("stagnant", at)
            + 4 * traffic
            + rng.gauss(0, 1.0)
        )
        pm25 = pm10 * (0.58 + 0.08 * weather.value("fine", at))
        sun = max(0.0, solar_elevation(at, self.latitude, self.longitude)) / 60
        o3 = 22 + 60 * sun - 0.35 * no2 + 10 * weather.value("o3", at) + rng.gauss(0, 2.0)
        laeq = 41 + 24 * math.sqrt(max(traffic, 0.0)) + rng.gauss(0, 1.5)
        return {
            "pm25": round(max(pm25, 0.5), 1),
            "pm10": round(max(pm10, 1.0), 1),
            "no2": round(max(no2, 0.5), 1),
            "o3": round(max(o3, 0.5), 1),
            "temperature": round(min(max(temperature, -40), 45), 1),
            "relative_humidity": round(min(max(humidity, 15), 100), 1),
            "atmospheric_pressure": round(
                1013 + 14 * weather.value("pressure", at) + rng.gauss(0, 0.2), 1
            ),
            "laeq": round(laeq, 1),
            "lamax": round(laeq + 7 + rng.expovariate(1 / 5), 1),
        }


# Dimmed from 23:00 to 05:00 local, to half output (a common night profile).
DIM_FROM_HOUR = 23
DIM_UNTIL_HOUR = 5
DIM_LEVEL = 0.5
# A broken lamp's driver still draws a little.
DEFECTIVE_DRAW_W = 1.5


@dataclass(slots=True)
class Lamp:
    rng: random.Random
    latitude: float
    longitude: float
    rated_watts: float
    meter_kwh: float

    def operate(
        self,
        at: datetime,
        local: datetime,
        elapsed_s: float,
        *,
        day_burner: bool = False,
        defective: bool = False,
    ) -> dict[str, Any]:
        dark = not is_daylight(at, self.latitude, self.longitude)
        if not dark and not day_burner:
            state, level = "off", 0.0
        elif dark and (local.hour >= DIM_FROM_HOUR or local.hour < DIM_UNTIL_HOUR):
            state, level = "low", DIM_LEVEL
        else:
            state, level = "on", 1.0
        if level == 0:
            power = 0.0
        elif defective:
            power = DEFECTIVE_DRAW_W
        else:
            power = self.rated_watts * level * (1 + self.rng.gauss(0, 0.01))
        # The meter integrates what the lamp drew since the last reading.
        self.meter_kwh += power * elapsed_s / 3_600_000
        return {
            "power_state": state,
            "illuminance_level": level,
            "active_power": round(power, 1),
            "total_active_energy_import": round(self.meter_kwh, 4),
            "lamp_status": "defectiveLamp" if defective else "ok",
        }


@dataclass(slots=True)
class AccessPoint:
    rng: random.Random
    capacity: int  # typical clients at the busiest hour
    bytes_in: int = 0
    bytes_out: int = 0

    def sample(self, local: datetime, elapsed_s: float) -> dict[str, Any]:
        mean = self.capacity * people_activity(local)
        clients = max(0, round(self.rng.gauss(mean, math.sqrt(mean + 0.25))))
        # Clients mostly download: a few kB/s each on average.
        self.bytes_out += int(clients * elapsed_s * self.rng.uniform(4_000, 40_000))
        self.bytes_in += int(clients * elapsed_s * self.rng.uniform(500, 6_000))
        return {
            "status": "up",
            "connected_clients": clients,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
        }


# Charging sessions per connector and day, spread over the day by activity.
SESSIONS_PER_DAY = 5.0
_PEAK_ACTIVITY = 1.3  # upper bound of people_activity, for thinning
CAR_MAX_AC_KW = (7.4, 11.0, 11.0, 22.0)
FAULT_CODES = tuple(code for code in OcppErrorCode if code is not OcppErrorCode.NO_ERROR)


@dataclass(slots=True)
class EvConnector:
    """One AC connector walking through OCPP 1.6 statuses:
    Available -> Preparing -> Charging -> SuspendedEV -> Finishing -> Available.
    Time runs continuously: transitions happen at their own instants and the
    meter integrates power over exactly the time spent charging."""

    rng: random.Random
    pole_id: str
    connector_id: int
    rated_kw: float
    to_local: Callable[[datetime], datetime]
    meter_kwh: float
    clock: datetime
    status: OcppStatus = OcppStatus.AVAILABLE
    error_code: OcppErrorCode = OcppErrorCode.NO_ERROR
    status_until: datetime = field(init=False)
    power_kw: float = 0.0
    energy_to_deliver_kwh: float = 0.0
    transaction_id: str | None = None
    sessions: int = 0

    def __post_init__(self) -> None:
        self._enter_available(self.clock)

    def _next_arrival(self, after: datetime) -> datetime:
        # Thinning of a Poisson process whose rate follows people's activity.
        peak_rate_per_s = SESSIONS_PER_DAY * _PEAK_ACTIVITY / 86400 / 0.45
        at = after
        for _ in range(10_000):
            at += timedelta(seconds=self.rng.expovariate(peak_rate_per_s))
            if self.rng.random() < people_activity(self.to_local(at)) / _PEAK_ACTIVITY:
                return at
        return at

    def _enter_available(self, at: datetime) -> None:
        self.status, self.error_code = OcppStatus.AVAILABLE, OcppErrorCode.NO_ERROR
        self.power_kw, self.transaction_id = 0.0, None
        self.status_until = self._next_arrival(at)

    def _transition(self) -> None:
        at = self.status_until
        if self.status is OcppStatus.AVAILABLE:
            self.sessions += 1
            self.transaction_id = f"{self.pole_id}-{self.connector_id}-{self.sessions}"
            self.status = OcppStatus.PREPARING
            self.status_until = at + timedelta(seconds=self.rng.uniform(30, 180))
        elif self.status is OcppStatus.PREPARING:
            self.status = OcppStatus.CHARGING
            car_kw = self.rng.choice(CAR_MAX_AC_KW)
            self.power_kw = round(min(self.rated_kw, car_kw) * self.rng.uniform(0.9, 1.0), 2)
            self.energy_to_deliver_kwh = self.rng.uniform(4, 40)
            hours = self.energy_to_deliver_kwh / self.power_kw
            self.status_until = at + timedelta(hours=hours)
        elif self.status is OcppStatus.CHARGING:
            # The car is full but still plugged in.
            self.status, self.power_kw = OcppStatus.SUSPENDED_EV, 0.0
            self.status_until = at + timedelta(seconds=self.rng.expovariate(1 / 2700))
        elif self.status is OcppStatus.SUSPENDED_EV:
            self.status = OcppStatus.FINISHING
            self.status_until = at + timedelta(seconds=self.rng.uniform(20, 120))
        else:  # Finishing, or a Faulted episode that is over
            self._enter_available(at)

    def advance(self, to: datetime) -> None:
        while self.status_until <= to:
            self._accrue(self.status_until)
            self._transition()
        self._accrue(to)

    def _accrue(self, until: datetime) -> None:
        if self.status is OcppStatus.CHARGING and until > self.clock:
            self.meter_kwh += self.power_kw * (until - self.clock).total_seconds() / 3600
        self.clock = max(self.clock, until)

    def fault(self, at: datetime, until: datetime) -> None:
        """The charger reports Faulted with an error code; a running session is aborted."""
        self.advance(at)
        self.status = OcppStatus.FAULTED
        self.error_code = self.rng.choice(FAULT_CODES)
        self.power_kw, self.transaction_id = 0.0, None
        self.status_until = until

    def sample(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "error_code": self.error_code,
            "charging_power": self.power_kw,
            "total_active_energy_import": round(self.meter_kwh, 3),
            "transaction_id": self.transaction_id,
        }
