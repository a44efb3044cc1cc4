"""Response models of readings, generated from the domain catalogue.

One model per family, with one field per catalogue field (its storage column
as the name, its unit and vocabulary in the description, its vocabulary as
the type), so the API cannot drift from what ingest stores: a field added to
the catalogue appears here, in the OpenAPI document and in the responses.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from pydantic import BaseModel, Field, create_model

from models.catalogue.families import FAMILIES, FieldSpec
from models.topics import Family


def _python_type(spec: FieldSpec) -> Any:
    if spec.vocabulary is not None:
        return spec.vocabulary
    if spec.pg_type in ("float4", "float8"):
        return float
    if spec.pg_type in ("int4", "int8"):
        return int
    return str


def reading_model(name: str, family: Family, doc: str) -> type[BaseModel]:
    spec = FAMILIES[family]
    fields: dict[str, Any] = {}
    if spec.has_connector:
        fields["connector_id"] = (int, Field(description="Connector id (from the topic)"))
    fields["observed_at"] = (datetime, Field(description="When the device measured"))
    fields["received_at"] = (datetime, Field(description="When the platform received it"))
    for field in spec.fields:
        kind = _python_type(field)
        if field.required or field.default is not None:  # always stored
            fields[field.column] = (kind, Field(description=field.describe()))
        else:
            fields[field.column] = (kind | None, Field(None, description=field.describe()))
    model: type[BaseModel] = create_model(name, __doc__=doc, **fields)
    return model


if TYPE_CHECKING:
    # Generated at import time; for the type checker they are plain models.
    EnvValues: TypeAlias = BaseModel
    LightValues: TypeAlias = BaseModel
    WifiValues: TypeAlias = BaseModel
    ConnectorValues: TypeAlias = BaseModel
else:
    EnvValues = reading_model("EnvValues", Family.ENV, FAMILIES[Family.ENV].title)
    LightValues = reading_model("LightValues", Family.LIGHT, FAMILIES[Family.LIGHT].title)
    WifiValues = reading_model("WifiValues", Family.WIFI, FAMILIES[Family.WIFI].title)
    ConnectorValues = reading_model(
        "ConnectorValues", Family.EV, "One charging connector's newest reading"
    )
