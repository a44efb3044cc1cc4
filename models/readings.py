"""Wire models: what a pole publishes, one pydantic model per metric family.

Each field takes its wire name (FIWARE Smart Data Models where one exists:
AirQualityObserved, NoiseLevelObserved, Streetlight, EVChargingStation), its
unit, physical range and description from the domain catalogue
(`models.catalogue`); the attribute name is the catalogue's storage column.
Anything physically impossible is rejected with a precise reason, because a
wrong number stored is worse than a number quarantined.

Readings are validated with a context {"received_at": datetime,
"max_future_skew": timedelta} so "too far in the future" is judged against
the moment the platform received the message, not against "now".
"""

from __future__ import annotations

import operator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Self

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

from models.catalogue.families import ENV_METRICS, FAMILIES
from models.topics import Family
from models.vocabulary import (
    LampStatus,
    OcppErrorCode,
    OcppStatus,
    PoleConnection,
    PowerState,
    WifiStatus,
)

# A device whose clock was never set reports 1970 or 2000; neither is a reading.
EARLIEST_VALID_TIMESTAMP = datetime(2000, 1, 2, tzinfo=UTC)
DEFAULT_MAX_FUTURE_SKEW = timedelta(minutes=5)

ShortText = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[\x20-\x7e]+$")
]


def catalogued(family: Family, column: str) -> Any:
    """The pydantic Field of `family`'s field `column`, as the catalogue declares it:
    wire name, physical range, description, and whether it is required."""
    spec = FAMILIES[family].field(column)
    options: dict[str, Any] = {"description": spec.describe()}
    if spec.wire != column:
        options["alias"] = spec.wire
    if spec.minimum is not None:
        options["ge"] = spec.minimum
    if spec.maximum is not None:
        options["le"] = spec.maximum
    if spec.vocabulary is not None:
        # JSON carries the vocabulary as strings; strict mode would want enum members.
        options["strict"] = False
    if spec.required:
        return Field(**options)
    return Field(spec.default, **options)


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

    pm25: float | None = catalogued(Family.ENV, "pm25")
    pm10: float | None = catalogued(Family.ENV, "pm10")
    no2: float | None = catalogued(Family.ENV, "no2")
    o3: float | None = catalogued(Family.ENV, "o3")
    temperature: float | None = catalogued(Family.ENV, "temperature")
    relative_humidity: float | None = catalogued(Family.ENV, "relative_humidity")
    atmospheric_pressure: float | None = catalogued(Family.ENV, "atmospheric_pressure")
    laeq: float | None = catalogued(Family.ENV, "laeq")
    lamax: float | None = catalogued(Family.ENV, "lamax")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if _env_metric_values(self.__dict__).count(None) == len(ENV_METRICS):
            raise ValueError("an env reading needs at least one measurement")
        if self.laeq is not None and self.lamax is not None and self.lamax < self.laeq:
            raise ValueError("LAmax cannot be below LAeq over the same interval")
        return self


# All metric values of a reading in one C call: this check runs for every
# reading ingested, and a generator over getattr() was a tenth of a worker's CPU.
_env_metric_values = operator.itemgetter(*ENV_METRICS)


class LightReading(_Reading):
    """The lamp (FIWARE Streetlight). powerState "low" means dimmed."""

    family: ClassVar[Family] = Family.LIGHT

    power_state: PowerState = catalogued(Family.LIGHT, "power_state")
    illuminance_level: float | None = catalogued(Family.LIGHT, "illuminance_level")
    active_power: float | None = catalogued(Family.LIGHT, "active_power")
    total_active_energy_import: float | None = catalogued(
        Family.LIGHT, "total_active_energy_import"
    )
    lamp_status: LampStatus | None = catalogued(Family.LIGHT, "lamp_status")


class WifiReading(_Reading):
    """The public Wi-Fi access point."""

    family: ClassVar[Family] = Family.WIFI

    status: WifiStatus = catalogued(Family.WIFI, "status")
    connected_clients: int = catalogued(Family.WIFI, "connected_clients")
    bytes_in: int | None = catalogued(Family.WIFI, "bytes_in")
    bytes_out: int | None = catalogued(Family.WIFI, "bytes_out")


class EvConnectorReading(_Reading):
    """One charging connector (FIWARE EVChargingStation, OCPP 1.6 vocabulary).

    The connector id comes from the topic, not the payload."""

    family: ClassVar[Family] = Family.EV

    status: OcppStatus = catalogued(Family.EV, "status")
    error_code: OcppErrorCode = catalogued(Family.EV, "error_code")
    charging_power: float | None = catalogued(Family.EV, "charging_power")
    total_active_energy_import: float | None = catalogued(Family.EV, "total_active_energy_import")
    transaction_id: ShortText | None = catalogued(Family.EV, "transaction_id")


class PoleStatus(_Reading):
    """Retained pole status; the same topic carries the MQTT last-will.

    A last-will is composed when the pole connects, so it cannot know when it
    will fire: an "offline" status may omit dateObserved and then counts from
    the moment the platform received it."""

    family: ClassVar[Family] = Family.STATUS

    date_observed: AwareDatetime | None = Field(  # type: ignore[assignment]
        None, alias="dateObserved", strict=False, description="When the status changed"
    )
    status: PoleConnection = catalogued(Family.STATUS, "status")
    firmware_version: ShortText | None = catalogued(Family.STATUS, "firmware_version")

    @field_validator("date_observed")
    @classmethod
    def _plausible_time(  # type: ignore[override]  # same name on purpose: replaces the base check
        cls, value: datetime | None, info: ValidationInfo
    ) -> datetime | None:
        return None if value is None else check_device_time(value, info.context)

    @model_validator(mode="after")
    def _timestamp_unless_will(self) -> Self:
        if self.date_observed is None and self.status is not PoleConnection.OFFLINE:
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
