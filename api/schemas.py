"""Response and request bodies of the API (OpenAPI is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from api.reading_schemas import ConnectorValues, EnvValues, LightValues, WifiValues
from models.api import PolePublic
from models.catalogue import registry
from models.vocabulary import (
    Capability,
    Connectivity,
    OcppErrorCode,
    OcppStatus,
    PlugType,
    WifiStatus,
)

T = TypeVar("T")


class License(BaseModel):
    id: str = Field(examples=["DL-DE-BY-2.0"])
    url: str = Field(examples=["https://www.govdata.de/dl-de/by-2-0"])


class Page(BaseModel, Generic[T]):
    """One page of a list; follow `next` until it is null."""

    items: list[T]
    next: str | None = Field(None, description="URL of the next page; null on the last page")
    license: License


class PoleList(Page[PolePublic]):
    pass


class PoleDetail(BaseModel):
    pole: PolePublic
    license: License


# --- latest readings -------------------------------------------------------


class PoleLatest(BaseModel):
    """Newest reading of each family, by device timestamp."""

    pole_id: str
    status: Connectivity
    status_since: datetime | None
    env: EnvValues | None
    light: LightValues | None
    wifi: WifiValues | None
    ev: list[ConnectorValues]
    license: License


class CityLatestItem(BaseModel):
    pole_id: str
    district: str | None
    reading: dict[str, Any] = Field(
        description="The family's newest reading (fields as in the per-pole latest)",
        examples=[{"observed_at": "2026-11-24T18:00:00+01:00", "pm10": 21.5}],
    )


class CityLatest(Page[CityLatestItem]):
    family: str


# --- series and aggregates ---------------------------------------------------


class Point(BaseModel):
    time: datetime = Field(
        description="Reading time, or the start of the bucket",
        examples=["2026-03-29T00:00:00+01:00"],
    )
    value: float | None = Field(examples=[21.4])


class Series(BaseModel):
    pole_id: str
    family: str
    metric: str
    unit: str
    connector_id: int | None = None
    interval: str
    agg: str | None = Field(description="null for raw readings")
    tz: str
    start: datetime = Field(description="Start of the covered range, widened to whole buckets")
    end: datetime
    points: list[Point]
    next: str | None
    license: License


class AggregatePoint(BaseModel):
    time: datetime
    group: str | None = Field(description="District name; 'city' for the whole city")
    value: float | None


class AggregateSeries(BaseModel):
    family: str
    metric: str
    unit: str
    group: str
    interval: str
    agg: str
    tz: str
    points: list[AggregatePoint]
    next: str | None
    license: License


# --- EV, Wi-Fi, air quality ----------------------------------------------------


class Connector(BaseModel):
    pole_id: str
    connector_id: int
    district: str | None
    latitude: float | None
    longitude: float | None
    distance_m: float | None = Field(None, description="From the point asked for, if any")
    max_power_kw: float | None = Field(
        None, description="Rated power (pole inventory)", examples=[22.0]
    )
    plug_type: PlugType | None = Field(
        None, description="Plug (pole inventory; FIWARE socketType)", examples=["Type2"]
    )
    status: OcppStatus
    error_code: OcppErrorCode
    observed_at: datetime = Field(description="Device time of the status")
    charging_power: float | None = None
    total_active_energy_import: float | None = None
    transaction_id: str | None = None


class ConnectorList(Page[Connector]):
    pass


class ChargingSession(BaseModel):
    pole_id: str
    connector_id: int
    transaction_id: str
    started_at: datetime
    last_reading_at: datetime
    energy_kwh: float | None
    peak_power_kw: float | None
    readings: int


class SessionList(Page[ChargingSession]):
    pass


class EnergyPoint(BaseModel):
    time: datetime
    group: str | None
    energy_kwh: float


class EnergyList(Page[EnergyPoint]):
    interval: str
    tz: str


class Hotspot(BaseModel):
    pole_id: str
    district: str | None
    latitude: float | None
    longitude: float | None
    observed_at: datetime
    status: WifiStatus
    connected_clients: int = Field(description="Load: clients connected now")
    bytes_in: int | None
    bytes_out: int | None


class HotspotList(Page[Hotspot]):
    pass


class Exceedances(BaseModel):
    """Counts against the EU standards in force for the year (see `rule_set`)."""

    pole_id: str
    district: str | None
    year: int
    rule_set: str = Field(description="The directive whose values the counts are judged by")
    pm10_days_over_limit: int = Field(description="Days with a PM10 daily mean over the limit")
    pm10_daily_limit: float
    pm10_days_allowed: int
    no2_hours_over_limit: int = Field(description="Hours with an NO2 hourly mean over the limit")
    no2_hourly_limit: float
    no2_hours_allowed: int
    o3_days_over_target: int = Field(
        description="Days whose maximum 8-hour O3 mean is over the target value"
    )
    o3_8h_target: float
    o3_days_allowed: int = Field(description="Averaged over three years")


class ExceedanceList(Page[Exceedances]):
    tz: str


# --- health ----------------------------------------------------------------------


class ChargerFault(BaseModel):
    connector_id: int
    status: OcppStatus
    error_code: OcppErrorCode
    observed_at: datetime


class PoleHealth(BaseModel):
    pole_id: str
    district: str | None
    connection: Connectivity
    reason: str = Field(description="Why the pole counts as online, offline or unknown")
    last_seen: datetime | None
    stale_sensors: list[str] = Field(description="Installed families with no recent reading")
    lamp_fault: str | None = Field(description="FIWARE lamp status when not ok")
    hotspot_fault: bool = Field(False, description="The Wi-Fi access point reports itself down")
    charger_faults: list[ChargerFault]


class PoleHealthList(Page[PoleHealth]):
    pass


class ServiceHealth(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ok",
                    "database": "reachable",
                    "timescaledb": True,
                    "timescaledb_version": "2.23.0",
                    "poles": 1000,
                    "last_message_age_s": 0.8,
                    "newest_observation_age_s": 1.9,
                }
            ]
        }
    )

    status: Literal["ok", "degraded", "down"]
    database: Literal["reachable", "unreachable"]
    timescaledb: bool
    timescaledb_version: str | None
    poles: int | None
    last_message_age_s: float | None = Field(description="Since ingest last stored a message")
    newest_observation_age_s: float | None = Field(description="Device clock of the newest reading")


# --- admin -------------------------------------------------------------------------


class PoleRegistryFields(BaseModel):
    """What an operator maintains about a pole."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        None, max_length=registry.NAME.max_length, pattern=r"^[^\x00-\x1f\x7f]*$"
    )
    district: str | None = Field(
        None, max_length=registry.DISTRICT.max_length, pattern=r"^[^\x00-\x1f\x7f]+$"
    )
    latitude: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    longitude: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    capabilities: list[Capability] | None = Field(None, max_length=len(Capability))
    notes: str | None = Field(None, max_length=registry.NOTES.max_length, pattern=r"^[^\x00]*$")


# --- admin: registry history and inventory import ------------------------------------


class FieldChange(BaseModel):
    old: Any = Field(None, examples=["Rauxel"])
    new: Any = Field(None, examples=["Ickern"])


class RegistryChange(BaseModel):
    id: int
    changed_at: datetime
    changed_by: str = Field(
        description="Who: the admin key (admin-key:NAME), the CLI user, or smartpole up",
        examples=["admin-key:gis-sync"],
    )
    source: str = Field(
        description="Through what: admin-api, an import file with its SHA-256, a decommission",
        examples=["import poles.csv sha256:3f2a9c0b1d4e5f60"],
    )
    changes: dict[str, FieldChange] = Field(
        examples=[{"district": {"old": "Rauxel", "new": "Ickern"}}]
    )


class PoleHistory(BaseModel):
    pole_id: str
    items: list[RegistryChange]
    next: str | None = Field(None, description="URL of the next page; null on the last page")


class ImportRow(BaseModel):
    line: int | None = Field(description="Line of the file (null: the file as a whole)")
    row: int | None = Field(
        description="The row's (GeoJSON: feature's) number in the file, from 1; null: the file"
    )
    pole_id: str | None
    changes: dict[str, FieldChange] | None = None
    reason: str | None = None


class ImportReportBody(BaseModel):
    """What an inventory import did (or, with dry_run, would do)."""

    source: str
    format: str
    encoding: str | None
    delimiter: str | None
    crs: str | None
    sha256: str | None
    size_bytes: int
    dry_run: bool
    written: bool = Field(description="true: every change was committed in one transaction")
    counts: dict[str, int] = Field(
        examples=[{"created": 2, "updated": 1, "unchanged": 40, "rejected": 0}]
    )
    notices: list[str]
    created: list[ImportRow]
    updated: list[ImportRow]
    rejected: list[ImportRow]
