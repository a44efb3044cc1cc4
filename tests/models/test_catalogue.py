"""Every layer's artefact agrees with the domain catalogue: the wire models, the
migrated schema, the writer's COPY layout (column by column, with real rows), the
hourly rollup, the API's enums and response schemas, the simulators.

The artefacts are generated or introspected and compared with `models.catalogue`;
no second hand-written list appears here, so a layer that restates a rule (and
then drifts) fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from annotated_types import Ge, Le
from pydantic.fields import FieldInfo

from api.app import create_app
from config.services import ApiSettings
from models.catalogue.families import (
    CAPABILITY_FAMILIES,
    ENV,
    FAMILIES,
    METRIC_FAMILIES,
    FamilySpec,
    FieldSpec,
)
from models.readings import MODEL_FOR_FAMILY
from models.topics import Family, PoleTopic
from models.vocabulary import Capability
from simulators.generator import _OUT_OF_RANGE
from storage.readmodels.spec import ENV_HOURLY, energy_sum_column
from storage.tables import READING_ID_COLUMN
from storage.writer import LAYOUTS, ReadingWriter, ReceivedReading

PG_TYPES = {
    "float4": "real",
    "float8": "double precision",
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "text": "text",
    "timestamptz": "timestamp with time zone",
}


def _constraint(info: FieldInfo, kind: type) -> Any:
    return next((getattr(m, kind.__name__.lower()) for m in info.metadata if type(m) is kind), None)


@pytest.mark.parametrize("family", list(Family))
def test_wire_models_are_the_catalogue(family: Family) -> None:
    spec = FAMILIES[family]
    fields = dict(MODEL_FOR_FAMILY[family].model_fields)
    fields.pop("date_observed")
    assert list(fields) == list(spec.value_columns)
    for column, info in fields.items():
        field = spec.field(column)
        assert (info.alias or column) == field.wire
        assert info.is_required() == field.required
        assert _constraint(info, Ge) == field.minimum
        assert _constraint(info, Le) == field.maximum
        assert info.description == field.describe()


@pytest.mark.parametrize("family", list(Family))
def test_the_migrated_schema_is_the_catalogue(family: Family, db: psycopg.Connection[Any]) -> None:
    spec = FAMILIES[family]
    rows = db.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_name = %s ORDER BY ordinal_position",
        (spec.table,),
    ).fetchall()
    layout = LAYOUTS[family]
    columns = dict(rows)
    # The SensorThings row number (0040): filled by its default, outside the COPY layout.
    if family is not Family.STATUS:
        assert columns.pop(READING_ID_COLUMN) == "bigint"
    assert columns == {c: PG_TYPES[t] for c, t in layout.columns_and_types}
    assert layout.columns[: len(spec.key_columns) + 1] == (*spec.key_columns, "received_at")
    assert layout.columns[len(spec.key_columns) + 1 :] == spec.value_columns


def test_the_hourly_rollup_has_every_env_metric(db: psycopg.Connection[Any]) -> None:
    columns = {
        r[0]
        for r in db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
            (ENV_HOURLY.table,),
        )
    }
    expected = {"pole_id", "bucket", "readings"}
    for metric in ENV.metrics:
        expected |= {f"{metric.column}_{part}" for part in ("count", "sum", "min", "max")}
    expected |= {energy_sum_column(m.column) for m in ENV.metrics if m.energetic}
    assert columns == expected == {c for c, _ in ENV_HOURLY.columns()}


def _distinct_value(field: FieldSpec, index: int) -> Any:
    """A valid wire value that no other field of the reading has."""
    if field.vocabulary is not None:
        members = list(field.vocabulary)
        return members[index % len(members)].value
    if field.unit is None:
        return f"text-{index}"
    assert field.minimum is not None and field.maximum is not None
    span = min(field.maximum - field.minimum, 1000.0)
    value = field.minimum + span * (index + 1) / 40
    return int(value) + index if field.pg_type.startswith("int") else round(value, 2)


@pytest.mark.parametrize("family", list(Family))
def test_the_writer_puts_every_value_in_its_own_column(
    family: Family, database_url: str, db: psycopg.Connection[Any]
) -> None:
    """A swapped pair of columns in the COPY layout would store a value where
    another belongs: write a reading whose every field differs, read it back."""
    spec = FAMILIES[family]
    at = datetime(2026, 5, 4, 12, tzinfo=UTC)
    payload: dict[str, Any] = {"dateObserved": at.isoformat()}
    for index, field in enumerate(spec.fields):
        payload[field.wire] = _distinct_value(field, index)
    if family is Family.ENV:
        payload["LAmax"] = payload["LAeq"] + 1  # the wire model wants LAmax >= LAeq
    reading = MODEL_FOR_FAMILY[family].model_validate(
        payload, context={"received_at": at + timedelta(seconds=1)}
    )
    topic = PoleTopic("CAT-1", family, 7 if spec.has_connector else None)
    with psycopg.connect(database_url) as conn:
        ReadingWriter(conn).write_batch([ReceivedReading(topic, reading, at)], [])
    columns = ", ".join(spec.value_columns)
    row = db.execute(f"SELECT {columns} FROM {spec.table}").fetchone()  # noqa: S608
    assert row is not None
    for field, stored in zip(spec.fields, row, strict=True):
        sent = payload[field.wire]
        if isinstance(stored, float):
            assert stored == pytest.approx(sent, rel=1e-6), field.column
        else:
            assert stored == sent, field.column


def test_capabilities_imply_the_families_that_have_them() -> None:
    assert set(CAPABILITY_FAMILIES) == set(Capability)
    implied = {f for families in CAPABILITY_FAMILIES.values() for f in families}
    assert implied == {f for f, s in FAMILIES.items() if s.capability is not None}
    assert all(s.expected_cadence for s in FAMILIES.values() if s.capability is not None)


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    spec: dict[str, Any] = create_app(
        ApiSettings(database_url="postgresql://docs@127.0.0.1/docs")  # type: ignore[arg-type]
    ).openapi()
    return spec


def _parameter(openapi: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    operation = openapi["paths"][path]["get"]
    found: dict[str, Any] = next(p for p in operation["parameters"] if p["name"] == name)
    schema = found["schema"]
    if "$ref" in schema:
        schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return {**found, "schema": schema}


def test_api_family_enums_are_the_catalogue(openapi: dict[str, Any]) -> None:
    series = _parameter(openapi, "/v1/poles/{pole_id}/series/{family}/{metric}", "family")
    assert series["schema"]["enum"] == [f.value for f in METRIC_FAMILIES]
    aggregates = _parameter(openapi, "/v1/aggregates/{family}/{metric}", "family")
    assert aggregates["schema"]["enum"] == [f.value for f in METRIC_FAMILIES]
    latest = _parameter(openapi, "/v1/latest", "family")
    assert latest["schema"]["enum"] == [
        f.value for f in METRIC_FAMILIES if not FAMILIES[f].has_connector
    ]
    metric = _parameter(openapi, "/v1/poles/{pole_id}/series/{family}/{metric}", "metric")
    for family in METRIC_FAMILIES:
        for field in FAMILIES[family].metrics:
            assert field.column in metric["description"]


@pytest.mark.parametrize(
    ("schema", "family"),
    [("EnvValues", Family.ENV), ("LightValues", Family.LIGHT), ("WifiValues", Family.WIFI),
     ("ConnectorValues", Family.EV)],
)  # fmt: skip
def test_api_reading_schemas_are_the_catalogue(
    openapi: dict[str, Any], schema: str, family: Family
) -> None:
    spec: FamilySpec = FAMILIES[family]
    properties = openapi["components"]["schemas"][schema]["properties"]
    keys = ["connector_id"] if spec.has_connector else []
    assert list(properties) == [*keys, "observed_at", "received_at", *spec.value_columns]
    for field in spec.fields:
        assert properties[field.column]["description"] == field.describe()


def test_simulated_out_of_range_values_cover_every_metric_and_are_refused() -> None:
    at = datetime(2026, 5, 4, 12, tzinfo=UTC)
    for family in METRIC_FAMILIES:
        wires = {name for name, _ in _OUT_OF_RANGE[family]}
        assert wires == {m.wire for m in FAMILIES[family].metrics}
        base: dict[str, Any] = {"dateObserved": at.isoformat()}
        for field in FAMILIES[family].fields:
            if field.required:
                base[field.wire] = _distinct_value(field, 0)
        for name, value in _OUT_OF_RANGE[family]:
            with pytest.raises(ValueError, match=name):
                MODEL_FOR_FAMILY[family].model_validate(
                    {**base, name: value}, context={"received_at": at}
                )


def test_every_metric_names_what_it_observes() -> None:
    for spec in FAMILIES.values():
        for field in spec.metrics:
            assert field.label and field.definition.startswith("http"), field.column
            assert field.unit is not None and field.unit.definition.startswith("http")
