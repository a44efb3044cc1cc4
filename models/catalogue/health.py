"""What counts as healthy: one definition for the API, the dashboards and alerts.

- A pole is **offline** when its retained status (or its MQTT last-will) says
  so, or when no message of any family has arrived for `offline_after`
  (platform clock). Never heard from: **unknown**.
- A **stale sensor**: the pole talks, but one of its installed families has
  sent no reading for `stale_sensor_after` (device clock).
- A **lamp fault**: the newest lamp status is anything but `ok`.
- A **charger fault**: a connector's newest OCPP status is Faulted, or it
  reports an error code other than NoError.
- A **hotspot fault**: the access point reports itself down.
- A **day burner**: a lamp on (or dimmed) while the sun stands higher than
  `DAY_BURNER_SUN_ELEVATION_DEG` above the horizon at the pole.

The two time thresholds are operator settings (`SMARTPOLE_HEALTH_*`) whose
defaults are written here; `smartpole db migrate` writes the effective values
into the `health_thresholds` table, from which the API and the Grafana SQL
both read them, so the two can never disagree about the same pole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from models.vocabulary import LampStatus, OcppErrorCode, OcppStatus, PowerState, WifiStatus


@dataclass(frozen=True, slots=True)
class HealthThresholds:
    offline_after: timedelta
    stale_sensor_after: timedelta


# 15 minutes of silence: 15 missed reports at the 60 s cadence of the catalogue,
# or 3 at the 5-minute cadence poles on a metered LTE-M/NB-IoT link often use.
# The API once said 300 s: one delayed report on a congested cellular link, or
# ingest reconnecting after a broker restart, then flapped a pole "offline" in
# the open data. Longer than 15 minutes hides a dead pole from the night shift.
DEFAULT_HEALTH = HealthThresholds(
    offline_after=timedelta(minutes=15),
    stale_sensor_after=timedelta(minutes=30),
)

LAMP_OK = LampStatus.OK
CHARGER_FAULT_STATUSES = frozenset({OcppStatus.FAULTED})
CHARGER_NO_ERROR = OcppErrorCode.NO_ERROR
HOTSPOT_FAULT_STATUSES = frozenset({WifiStatus.DOWN})
# Above civil twilight: a lamp that burns now wastes energy.
DAY_BURNER_SUN_ELEVATION_DEG = 6.0
# A lamp burns when it is on or dimmed ("low"): burn hours, dimming and day burners.
LIT_POWER_STATES = (PowerState.ON, PowerState.LOW)
# A connector silent for longer than this is no longer reported with a
# "current" status (it may have been removed).
CONNECTOR_STATUS_HORIZON = timedelta(days=7)


def is_lamp_fault(lamp_status: str | None) -> bool:
    return lamp_status is not None and lamp_status != LAMP_OK


def is_charger_fault(status: str, error_code: str) -> bool:
    return status in CHARGER_FAULT_STATUSES or error_code != CHARGER_NO_ERROR
