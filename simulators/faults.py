"""Fault scenarios: what can go wrong with a pole, and how often.

Two kinds, because they happen differently in the field:
- episodes last a while (a pole offline, a network outage, a stuck sensor, a
  skewed clock, a faulted charger, a lamp burning by day or broken); their
  rate is expected episodes per pole per simulated day;
- message faults hit single messages (out-of-range values, malformed
  payloads, duplicate sends, a pole publishing as another one); their rate
  is the probability per message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum


class Fault(StrEnum):
    OFFLINE = "offline"
    OUTAGE = "outage"
    STUCK_SENSOR = "stuck_sensor"
    CLOCK_SKEW = "clock_skew"
    CHARGER_FAULTED = "charger_faulted"
    DAY_BURNER = "day_burner"
    DEFECTIVE_LAMP = "defective_lamp"
    OUT_OF_RANGE = "out_of_range"
    MALFORMED = "malformed"
    DUPLICATE = "duplicate"
    IMPOSTOR = "impostor"


EPISODE_FAULTS = (
    Fault.OFFLINE,
    Fault.OUTAGE,
    Fault.STUCK_SENSOR,
    Fault.CLOCK_SKEW,
    Fault.CHARGER_FAULTED,
    Fault.DAY_BURNER,
    Fault.DEFECTIVE_LAMP,
)
MESSAGE_FAULTS = (Fault.OUT_OF_RANGE, Fault.MALFORMED, Fault.DUPLICATE, Fault.IMPOSTOR)

# Used when a fault is named without a rate: noticeable in a day of a small fleet.
DEFAULT_RATES: dict[Fault, float] = {
    Fault.OFFLINE: 1.0,
    Fault.OUTAGE: 1.0,
    Fault.STUCK_SENSOR: 0.5,
    Fault.CLOCK_SKEW: 0.5,
    Fault.CHARGER_FAULTED: 1.0,
    Fault.DAY_BURNER: 0.5,
    Fault.DEFECTIVE_LAMP: 0.5,
    Fault.OUT_OF_RANGE: 0.01,
    Fault.MALFORMED: 0.01,
    Fault.DUPLICATE: 0.02,
    Fault.IMPOSTOR: 0.01,
}

# How long an episode lasts (uniform between the two).
EPISODE_DURATION: dict[Fault, tuple[timedelta, timedelta]] = {
    Fault.OFFLINE: (timedelta(minutes=5), timedelta(hours=1)),
    Fault.OUTAGE: (timedelta(minutes=10), timedelta(hours=3)),
    Fault.STUCK_SENSOR: (timedelta(minutes=30), timedelta(hours=4)),
    Fault.CLOCK_SKEW: (timedelta(minutes=30), timedelta(hours=6)),
    Fault.CHARGER_FAULTED: (timedelta(minutes=10), timedelta(hours=2)),
    Fault.DAY_BURNER: (timedelta(hours=2), timedelta(hours=12)),
    Fault.DEFECTIVE_LAMP: (timedelta(hours=6), timedelta(hours=48)),
}

# Message faults are rare accidents: at most every second message.
MAX_MESSAGE_FAULT_RATE = 0.5
MAX_EPISODES_PER_DAY = 1000.0


class FaultSpecError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class FaultPlan:
    rates: dict[Fault, float] = field(default_factory=dict)
    # Faults that must happen at least once, starting a quarter into the run:
    # a technician reproducing one fault on one pole cannot wait for chance.
    forced: frozenset[Fault] = frozenset()

    def rate(self, fault: Fault) -> float:
        return self.rates.get(fault, 0.0)

    def active(self) -> list[Fault]:
        return [f for f in Fault if self.rates.get(f, 0.0) > 0 or f in self.forced]

    @classmethod
    def parse(cls, spec: str, *, forced: bool = False) -> FaultPlan:
        """`offline=2,malformed=0.01,duplicate` (rate optional: a default applies)."""
        rates: dict[Fault, float] = {}
        for raw_part in spec.split(","):
            part = raw_part.strip()
            if not part or part == "none":
                continue
            name, _, value = part.partition("=")
            try:
                fault = Fault(name.strip().replace("-", "_"))
            except ValueError:
                known = ", ".join(f.value for f in Fault)
                message = f"unknown fault {name.strip()[:40]!r} (known: {known})"
                raise FaultSpecError(message) from None
            if value:
                try:
                    rate = float(value)
                except ValueError:
                    message = f"rate of {fault} must be a number, got {value[:40]!r}"
                    raise FaultSpecError(message) from None
            else:
                rate = DEFAULT_RATES[fault]
            limit = MAX_MESSAGE_FAULT_RATE if fault in MESSAGE_FAULTS else MAX_EPISODES_PER_DAY
            if not 0 <= rate <= limit:  # also refuses NaN
                unit = "per message" if fault in MESSAGE_FAULTS else "episodes per pole-day"
                raise FaultSpecError(f"rate of {fault} must be 0-{limit} ({unit}), got {value}")
            rates[fault] = rate
        return cls(rates, frozenset(rates) if forced else frozenset())
