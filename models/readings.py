"""Wire models: what a pole publishes, one pydantic model per metric family.

Field names follow the FIWARE Smart Data Models where one exists
(AirQualityObserved, NoiseLevelObserved, Streetlight, EVChargingStation);
units are fixed and documented on each field. Anything physically impossible
is rejected with a precise reason, because a wrong number stored is worse
than a number quarantined.

Readings are validated with a context {"received_at": datetime,
"max_future_skew": timedelta} so "too far in the future" is judged against
the moment the platform received the message, not against "now".
"""

from __future__ import annotations

import operator
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, LiteralString, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from models.topics import Family

# A device whose clock was never set reports 1970 or 2000; neither is a reading.
EARLIEST_VALID_TIMESTAMP = datetime(2000, 1, 2, tzinfo=UTC)
DEFAULT_MAX_FUTURE_SKEW = timedelta(minutes=5)

Concentration = Annotated[float, Field(ge=0, le=5000)]  # µg/m³
SoundLevel = Annotated[float, Field(ge=0, le=160)]  # dB(A)
EnergyMeter = Annotated[float, Field(ge=0, le=1e9)]  # kWh, cumulative
ByteCounter = Annotated[int, Field(ge=0, le=2**63 - 1)]  # bytes, cumulative
ShortText = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[\x20-\x7e]+$")
]


class _Reading(BaseModel):
    """Common to every family: the device's own observation time."""

    # strict: "12" is not 12; JSON numbers only. Datetimes stay lax because JSON
    # carries them as ISO 8601 strings.
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, allow_inf_nan=False, populate_by_name=True
    )
    family: ClassVar[Family]

    date_observed: AwareDatetime = Field(
        alias="dateObserved",
        strict=False,
        description="When the device measured, ISO 8601 with a UTC offset.",
        examples=["2026-11-24T13:45:00+01:00"],
    )

    @field_validator("date_observed")
    @classmethod
    def _plausible_time(cls, value: datetime, info: ValidationInfo) -> datetime:
        return check_device_time(value, info.context)

    def wire(self) -> dict[str, Any]:
        """The JSON-ready dict a pole publishes (FIWARE names, no empty fields)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def check_device_time(value: datetime, context: Any) -> datetime:
    context = context if isinstance(context, dict) else {}
    received_at: datetime = context.get("received_at") or datetime.now(UTC)
    skew: timedelta = context.get("max_future_skew", DEFAULT_MAX_FUTURE_SKEW)
    # Converted first: comparing datetimes that share the tzinfo object skips
    # the offset lookups, and this runs for every reading ingested.
    value = value.astimezone(UTC)
    if value < EARLIEST_VALID_TIMESTAMP:
        raise ValueError("device clock not set: timestamp before 2000-01-02")
    if value > received_at + skew:
        ahead = (value - received_at).total_seconds()
        raise ValueError(
            f"timestamp {ahead:.0f} s ahead of the platform clock "
            f"(at most {skew.total_seconds():.0f} s allowed)"
        )
    return value


class EnvReading(_Reading):
    """Air quality (FIWARE AirQualityObserved), weather and noise (NoiseLevelObserved)."""

    family: ClassVar[Family] = Family.ENV

    pm25: Concentration | None = Field(None, description="PM2.5, µg/m³")
    pm10: Concentration | None = Field(None, description="PM10, µg/m³")
    no2: Concentration | None = Field(None, description="Nitrogen dioxide, µg/m³")
    o3: Concentration | None = Field(None, description="Ozone, µg/m³")
    temperature: float | None = Field(None, ge=-60, le=70, description="Air temperature, °C")
    relative_humidity: float | None = Field(
        None, alias="relativeHumidity", ge=0, le=100, description="Relative humidity, %"
    )
    atmospheric_pressure: float | None = Field(
        None, alias="atmosphericPressure", ge=800, le=1100, description="Air pressure, hPa"
    )
    laeq: SoundLevel | None = Field(
        None, alias="LAeq", description="A-weighted equivalent sound level, dB(A)"
    )
    lamax: SoundLevel | None = Field(
        None, alias="LAmax", description="A-weighted maximum sound level, dB(A)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if _env_metric_values(self.__dict__).count(None) == len(ENV_METRICS):
            raise ValueError("an env reading needs at least one measurement")
        if self.laeq is not None and self.lamax is not None and self.lamax < self.laeq:
            raise ValueError("LAmax cannot be below LAeq over the same interval")
        return self


# Python field names, which are also the storage column names.
ENV_METRICS: tuple[LiteralString, ...] = (
    "pm25",
    "pm10",
    "no2",
    "o3",
    "temperature",
    "relative_humidity",
    "atmospheric_pressure",
    "laeq",
    "lamax",
)
# All metric values of a reading in one C call: this check runs for every
# reading ingested, and a generator over getattr() was a tenth of a worker's CPU.
_env_metric_values = operator.itemgetter(*ENV_METRICS)


class LightReading(_Reading):
    """The lamp (FIWARE Streetlight). powerState "low" means dimmed."""

    family: ClassVar[Family] = Family.LIGHT

    power_state: Literal["on", "off", "low", "bootingUp"] = Field(alias="powerState")
    illuminance_level: float | None = Field(
        None, alias="illuminanceLevel", ge=0, le=1, description="Dim level, 0 (off) to 1 (full)"
    )
    active_power: float | None = Field(
        None, alias="activePower", ge=0, le=5000, description="Lamp power draw, W"
    )
    total_active_energy_import: EnergyMeter | None = Field(
        None, alias="totalActiveEnergyImport", description="Lamp energy meter, kWh"
    )
    lamp_status: Literal["ok", "defectiveLamp", "columnIssue", "brokenLantern"] | None = Field(
        None, alias="status", description="Lamp health (FIWARE Streetlight status)"
    )


class WifiReading(_Reading):
    """The public Wi-Fi access point."""

    family: ClassVar[Family] = Family.WIFI

    status: Literal["up", "down", "degraded"] = Field(description="Access point state")
    connected_clients: int = Field(alias="connectedClients", ge=0, le=10_000)
    bytes_in: ByteCounter | None = Field(
        None, alias="bytesIn", description="Bytes received since boot (counter)"
    )
    bytes_out: ByteCounter | None = Field(
        None, alias="bytesOut", description="Bytes sent since boot (counter)"
    )


class OcppStatus(StrEnum):
    """OCPP 1.6 ChargePointStatus."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class OcppErrorCode(StrEnum):
    """OCPP 1.6 ChargePointErrorCode."""

    NO_ERROR = "NoError"
    CONNECTOR_LOCK_FAILURE = "ConnectorLockFailure"
    EV_COMMUNICATION_ERROR = "EVCommunicationError"
    GROUND_FAILURE = "GroundFailure"
    HIGH_TEMPERATURE = "HighTemperature"
    INTERNAL_ERROR = "InternalError"
    LOCAL_LIST_CONFLICT = "LocalListConflict"
    OTHER_ERROR = "OtherError"
    OVER_CURRENT_FAILURE = "OverCurrentFailure"
    OVER_VOLTAGE = "OverVoltage"
    POWER_METER_FAILURE = "PowerMeterFailure"
    POWER_SWITCH_FAILURE = "PowerSwitchFailure"
    READER_FAILURE = "ReaderFailure"
    RESET_FAILURE = "ResetFailure"
    UNDER_VOLTAGE = "UnderVoltage"
    WEAK_SIGNAL = "WeakSignal"


class EvConnectorReading(_Reading):
    """One charging connector (FIWARE EVChargingStation, OCPP 1.6 vocabulary).

    The connector id comes from the topic, not the payload."""

    family: ClassVar[Family] = Family.EV

    status: OcppStatus = Field(strict=False, description="OCPP 1.6 connector status")
    error_code: OcppErrorCode = Field(
        OcppErrorCode.NO_ERROR, alias="errorCode", strict=False, description="OCPP 1.6 error code"
    )
    charging_power: float | None = Field(
        None, alias="chargingPower", ge=0, le=400, description="Power delivered now, kW"
    )
    total_active_energy_import: EnergyMeter | None = Field(
        None, alias="totalActiveEnergyImport", description="Connector energy meter, kWh"
    )
    transaction_id: ShortText | None = Field(
        None, alias="transactionId", description="Charging session id, while one runs"
    )


class PoleStatus(_Reading):
    """Retained pole status; the same topic carries the MQTT last-will.

    A last-will is composed when the pole connects, so it cannot know when it
    will fire: an "offline" status may omit dateObserved and then counts from
    the moment the platform received it."""

    family: ClassVar[Family] = Family.STATUS

    date_observed: AwareDatetime | None = Field(  # type: ignore[assignment]
        None, alias="dateObserved", strict=False, description="When the status changed"
    )
    status: Literal["online", "offline"]
    firmware_version: ShortText | None = Field(None, alias="firmwareVersion")

    @field_validator("date_observed")
    @classmethod
    def _plausible_time(  # type: ignore[override]  # same name on purpose: replaces the base check
        cls, value: datetime | None, info: ValidationInfo
    ) -> datetime | None:
        return None if value is None else check_device_time(value, info.context)

    @model_validator(mode="after")
    def _timestamp_unless_will(self) -> Self:
        if self.date_observed is None and self.status != "offline":
            raise ValueError("dateObserved is required unless status is offline (last-will)")
        return self


Reading = EnvReading | LightReading | WifiReading | EvConnectorReading | PoleStatus

MODEL_FOR_FAMILY: dict[Family, type[Reading]] = {
    Family.ENV: EnvReading,
    Family.LIGHT: LightReading,
    Family.WIFI: WifiReading,
    Family.EV: EvConnectorReading,
    Family.STATUS: PoleStatus,
}
