"""Public models of the open-data API that other packages may reuse."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from models.vocabulary import Capability, Connectivity


class PolePublic(BaseModel):
    """A pole as the open-data API shows it: registry fields and what was observed."""

    model_config = ConfigDict(from_attributes=True)

    pole_id: str = Field(examples=["CR-0001"])
    name: str | None = Field(None, examples=["Schlossplatz 1"])
    district: str | None = Field(None, examples=["Mitte"])
    latitude: float | None = Field(None, description="WGS 84", examples=[52.5163])
    longitude: float | None = Field(None, description="WGS 84", examples=[13.3777])
    capabilities: list[Capability] = Field(
        default_factory=list, description="Installed families", examples=[["env", "light", "ev"]]
    )
    notes: str | None = None
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
