"""Public models of the open-data API that other packages may reuse."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models.catalogue import registry
from models.vocabulary import Capability, Connectivity, PlugType


class ConnectorPublic(BaseModel):
    """A charging connector as the pole inventory lists it."""

    connector_id: int = Field(examples=[1])
    max_power_kw: float | None = Field(
        None, description=registry.EV_MAX_POWER_KW.description, examples=[22.0]
    )
    plug_type: PlugType | None = Field(None, examples=["Type2"])


class PolePublic(BaseModel):
    """A pole as the open-data API shows it: registry fields and what was observed."""

    model_config = ConfigDict(from_attributes=True)

    pole_id: str = Field(examples=["CR-0001"])
    asset_id: str | None = Field(
        None, description=registry.ASSET_ID.description, examples=["Mast 12/345"]
    )
    name: str | None = Field(None, examples=["Schlossplatz 1"])
    district: str | None = Field(None, examples=["Mitte"])
    latitude: float | None = Field(None, description="WGS 84", examples=[52.5163])
    longitude: float | None = Field(None, description="WGS 84", examples=[13.3777])
    capabilities: list[Capability] = Field(
        default_factory=list, description="Installed families", examples=[["env", "light", "ev"]]
    )
    connectors: list[ConnectorPublic] = Field(
        default_factory=list, description="Charging connectors installed (pole inventory)"
    )
    lamp_rated_power_w: float | None = Field(
        None, description=registry.LAMP_RATED_POWER_W.description + ", W", examples=[56.0]
    )
    commissioned_on: date | None = Field(None, examples=["2024-05-17"])
    notes: str | None = None
    properties: dict[str, Any] = Field(
        default_factory=dict,
        description="The inventory's public free-form properties (public.* columns)",
        examples=[{"height_m": "8"}],
    )
    decommissioned_at: datetime | None = Field(
        None, description="When the pole was retired (retired poles are not listed)"
    )
    status: Connectivity = Field(
        Connectivity.UNKNOWN, description="From the retained status topic and the MQTT last-will"
    )
    status_since: datetime | None = None
    first_seen: datetime | None = Field(None, description="Platform clock")
    last_seen: datetime | None = Field(None, description="Platform clock")
    last_observed_at: datetime | None = Field(
        None, description="Newest device timestamp of any reading"
    )
    firmware_version: str | None = None
