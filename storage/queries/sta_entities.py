"""The SensorThings entity sets as SQL row sources (models/sensorthings/mapping.py).

Each entity set is a SELECT whose columns are its properties (snake_case) and the
keys of its relations; the filter compiler (sta_filter.py) and the executor
(sta.py) read every set through `(<source>) AS alias`. Observations have one
source per (family, metric): a reading table read as one metric's values.
Constants written into the SQL (family names, slots, catalogue texts) come from
the catalogue, never from a request: request values are always parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import orjson
from psycopg import sql

from models.catalogue.families import FAMILIES, Aggregation
from models.sensorthings.ids import (
    AGGREGATE_BASE,
    AGGREGATE_BUCKET_BITS,
    AGGREGATE_EPOCH,
    KIND_STRIDE,
    METRIC_STRIDE,
    StreamKind,
)
from models.sensorthings.mapping import (
    AGGREGATE_DURATION,
    ENTITY_SETS,
    OBSERVED_PROPERTIES,
    OM_MEASUREMENT,
    SENSORS,
    ObservedPropertyDef,
)
from models.topics import Family
from storage.readmodels.spec import (
    ENV_DAILY,
    LATEST_TABLES,
    LOCAL_ZONE_SETTING,
    POLE_ROLLUPS,
    SETTINGS_TABLE,
    Rollup,
    energy_sum_column,
)

PropType = Literal[
    "id", "number", "string", "datetime", "json", "geometry", "interval", "bool", "null"
]


@dataclass(frozen=True, slots=True)
class Prop:
    name: str  # the SensorThings name (filter, orderby, select)
    column: str  # the source's column
    type: PropType
    nullable: bool = False
    # geometry: the column holding the pole's thing id (the point is the pole's position)


@dataclass(frozen=True, slots=True)
class Nav:
    name: str
    target: str
    many: bool
    local: str  # this source's column
    remote: str  # the target source's column


@dataclass(frozen=True, slots=True)
class EntitySet:
    name: str
    singular: str
    props: tuple[Prop, ...]
    navs: tuple[Nav, ...]
    # the column naming the pole (thing id) whose position the geometry property is
    thing_column: str | None = None
    default_order: tuple[str, ...] = ("id",)

    def prop(self, name: str) -> Prop | None:
        return next((p for p in self.props if p.name == name), None)

    def nav(self, name: str) -> Nav | None:
        return next((n for n in self.navs if n.name == name), None)


def _p(name: str, column: str, type_: PropType, nullable: bool = False) -> Prop:
    return Prop(name, column, type_, nullable)


ID = _p("id", "id", "id")
NAME = _p("name", "name", "string")
DESCRIPTION = _p("description", "description", "string")
PROPERTIES = _p("properties", "properties", "json", True)
ENCODING = _p("encodingType", "encoding_type", "string")

SETS: dict[str, EntitySet] = {
    s.name: s
    for s in (
        EntitySet(
            "Things",
            "Thing",
            (ID, NAME, DESCRIPTION, PROPERTIES),
            (
                Nav("Locations", "Locations", True, "id", "thing_id"),
                Nav("HistoricalLocations", "HistoricalLocations", True, "id", "thing_id"),
                Nav("Datastreams", "Datastreams", True, "id", "thing_id"),
            ),
        ),
        EntitySet(
            "Locations",
            "Location",
            (ID, NAME, DESCRIPTION, ENCODING, _p("location", "id", "geometry"), PROPERTIES),
            (
                Nav("Things", "Things", True, "thing_id", "id"),
                Nav("HistoricalLocations", "HistoricalLocations", True, "id", "location_id"),
            ),
            thing_column="thing_id",
        ),
        EntitySet(
            "HistoricalLocations",
            "HistoricalLocation",
            (ID, _p("time", "time", "datetime")),
            (
                Nav("Thing", "Things", False, "thing_id", "id"),
                Nav("Locations", "Locations", True, "location_id", "id"),
            ),
        ),
        EntitySet(
            "Datastreams",
            "Datastream",
            (
                ID,
                NAME,
                DESCRIPTION,
                _p("unitOfMeasurement", "unit_of_measurement", "json"),
                _p("observationType", "observation_type", "string"),
                _p("observedArea", "thing_id", "geometry"),
                _p("phenomenonTime", "phenomenon_time", "interval", True),
                _p("resultTime", "result_time", "interval", True),
                PROPERTIES,
            ),
            (
                Nav("Thing", "Things", False, "thing_id", "id"),
                Nav("Sensor", "Sensors", False, "sensor_id", "id"),
                Nav("ObservedProperty", "ObservedProperties", False, "observed_property_id", "id"),
                Nav("Observations", "Observations", True, "id", "datastream_id"),
            ),
            thing_column="thing_id",
        ),
        EntitySet(
            "Sensors",
            "Sensor",
            (ID, NAME, DESCRIPTION, ENCODING, _p("metadata", "metadata", "string"), PROPERTIES),
            (Nav("Datastreams", "Datastreams", True, "id", "sensor_id"),),
        ),
        EntitySet(
            "ObservedProperties",
            "ObservedProperty",
            (ID, NAME, _p("definition", "definition", "string"), DESCRIPTION, PROPERTIES),
            (Nav("Datastreams", "Datastreams", True, "id", "observed_property_id"),),
        ),
        EntitySet(
            "Observations",
            "Observation",
            (
                ID,
                _p("phenomenonTime", "phenomenon_time", "datetime"),
                _p("resultTime", "result_time", "datetime", True),
                _p("result", "result", "number"),
                _p("resultQuality", "result_quality", "json", True),
                _p("validTime", "valid_time", "interval", True),
                _p("parameters", "parameters", "json", True),
            ),
            (
                Nav("Datastream", "Datastreams", False, "datastream_id", "id"),
                Nav("FeatureOfInterest", "FeaturesOfInterest", False, "foi_id", "id"),
            ),
            default_order=("id",),
        ),
        EntitySet(
            "FeaturesOfInterest",
            "FeatureOfInterest",
            (ID, NAME, DESCRIPTION, ENCODING, _p("feature", "id", "geometry"), PROPERTIES),
            (Nav("Observations", "Observations", True, "id", "foi_id"),),
            thing_column="id",
        ),
    )
}
assert tuple(SETS) == ENTITY_SETS
SINGULAR = {s.singular: s for s in SETS.values()}

I = sql.Identifier  # noqa: E741


def L(value: object) -> sql.Composable:  # noqa: N802 - reads like sql.Literal
    """A catalogue constant quoted into the SQL. A `%` in it is doubled: the
    statements run with named parameters, where a bare `%` starts a placeholder."""
    return sql.SQL(sql.Literal(value).as_string().replace("%", "%%"))


THINGS_SQL = sql.SQL(
    """SELECT t.thing_id AS id, p.pole_id, coalesce(p.name, p.pole_id) AS name,
       'Smart pole ' || p.pole_id || coalesce(' in ' || nullif(p.district, ''), '') AS description,
       p.properties || jsonb_strip_nulls(jsonb_build_object(
           'poleId', p.pole_id, 'district', p.district, 'capabilities', to_jsonb(p.capabilities),
           'firmwareVersion', p.firmware_version, 'assetId', p.asset_id, 'status', p.status,
           'lastSeen', p.last_seen, 'decommissionedAt', p.decommissioned_at)) AS properties,
       p.latitude, p.longitude
FROM sta_things t JOIN poles p ON p.pole_id = t.pole_id"""
)

LOCATIONS_SQL = sql.SQL(
    """SELECT t.thing_id AS id, t.thing_id, p.pole_id, 'Position of pole ' || p.pole_id AS name,
       'The position of smart pole ' || p.pole_id AS description,
       'application/geo+json' AS encoding_type,
       jsonb_build_object('poleId', p.pole_id) AS properties, p.latitude, p.longitude
FROM sta_things t JOIN poles p ON p.pole_id = t.pole_id
WHERE p.latitude IS NOT NULL AND p.longitude IS NOT NULL"""
)

FEATURES_SQL = sql.SQL(
    """SELECT t.thing_id AS id, p.pole_id, 'Surroundings of pole ' || p.pole_id AS name,
       'The air, street and equipment at smart pole ' || p.pole_id AS description,
       'application/geo+json' AS encoding_type,
       jsonb_build_object('poleId', p.pole_id) AS properties, p.latitude, p.longitude
FROM sta_things t JOIN poles p ON p.pole_id = t.pole_id"""
)

# A registry change that set a position; its Location is the pole's (one per pole).
HISTORICAL_SQL = sql.SQL(
    """SELECT h.id, h.changed_at AS time, t.thing_id,
       CASE WHEN p.latitude IS NOT NULL AND p.longitude IS NOT NULL THEN t.thing_id END
           AS location_id
FROM pole_registry_history h
JOIN sta_things t ON t.pole_id = h.pole_id
JOIN poles p ON p.pole_id = h.pole_id
WHERE h.changes ? 'latitude' OR h.changes ? 'longitude'"""
)


def _values(rows: list[list[sql.Composable]], names: list[str]) -> sql.Composed:
    return sql.SQL("(VALUES {rows}) AS {alias}({names})").format(
        rows=sql.SQL(", ").join(sql.SQL("({})").format(sql.SQL(", ").join(r)) for r in rows),
        alias=I("v"),
        names=sql.SQL(", ").join(map(I, names)),
    )


def _json(value: object) -> sql.Composable:
    return sql.SQL("{}::jsonb").format(L(orjson.dumps(value).decode()))


SENSORS_SQL = sql.SQL("SELECT * FROM {}").format(
    _values(
        [
            [
                L(slot),
                L(str(d.entity()["name"])),
                L(str(d.entity()["description"])),
                L(str(d.entity()["encodingType"])),
                L(str(d.entity()["metadata"])),
                _json(d.entity()["properties"]),
            ]
            for slot, d in SENSORS.items()
        ],
        ["id", "name", "description", "encoding_type", "metadata", "properties"],
    )
)

OBSERVED_PROPERTIES_SQL = sql.SQL("SELECT * FROM {}").format(
    _values(
        [
            [
                L(slot),
                L(d.field.label),
                L(d.field.definition),
                L(d.field.description),
                _json(d.entity()["properties"]),
            ]
            for slot, d in OBSERVED_PROPERTIES.items()
        ],
        ["id", "name", "definition", "description", "properties"],
    )
)

SENSOR_OF_FAMILY = {d.spec.family: slot for slot, d in SENSORS.items()}


# The rollups an aggregate Datastream reads: hourly (UTC hours) and daily (local days).
AGGREGATE_ROLLUPS: dict[tuple[Family, StreamKind], Rollup] = {
    **{(f, StreamKind.HOURLY): r for f, r in POLE_ROLLUPS.items() if r.grain == "hour"},
    **{(f, StreamKind.DAILY): r for f, r in POLE_ROLLUPS.items() if r.grain == "day"},
    (Family.ENV, StreamKind.DAILY): ENV_DAILY,
}
# What an aggregate's result is: the rollup's mean (energy mean for sound levels), or
# the maximum of a field aggregated by its maximum. Counters (kWh, bytes) are not
# offered: their increase is a /v1 aggregate, not a mean of meter readings.
AGGREGATE_STATISTIC: dict[Aggregation, str] = {
    Aggregation.MEAN: "mean",
    Aggregation.ENERGY_MEAN: "mean",
    Aggregation.MAX: "max",
}
KIND_WORDS = {StreamKind.HOURLY: "hourly", StreamKind.DAILY: "daily"}


def aggregate_kinds(d: ObservedPropertyDef) -> list[StreamKind]:
    if d.field.aggregation not in AGGREGATE_STATISTIC:
        return []
    return [k for k in (StreamKind.HOURLY, StreamKind.DAILY) if (d.family, k) in AGGREGATE_ROLLUPS]


def _metric_rows() -> list[list[sql.Composable]]:
    rows = []
    for slot, d in OBSERVED_PROPERTIES.items():
        for kind in [StreamKind.RAW, *aggregate_kinds(d)]:
            if kind is StreamKind.RAW:
                suffix, duration, statistic = "", None, None
            else:
                statistic = AGGREGATE_STATISTIC[d.field.aggregation]
                suffix = f", {KIND_WORDS[kind]} {statistic}"
                duration = AGGREGATE_DURATION[kind]
            rows.append(
                [
                    L(slot),
                    L(int(kind)),
                    L(d.family.value),
                    L(d.field.label),
                    L(suffix),
                    L(d.field.description),
                    L(d.column),
                    _json(d.unit_of_measurement()),
                    L(d.observation_type if kind is StreamKind.RAW else OM_MEASUREMENT),
                    L(SENSOR_OF_FAMILY[d.family]),
                    sql.SQL("{}::text").format(L(duration)),
                    sql.SQL("{}::text").format(L(statistic)),
                ]
            )
    return rows


METRICS_VALUES = _values(
    _metric_rows(),
    ["slot", "kind", "family", "label", "suffix", "description", "metric", "unit",
     "observation_type", "sensor", "duration", "statistic"],
)  # fmt: skip

# phenomenonTime/resultTime are read per page (sta.py datastream_times), not here.
DATASTREAMS_SQL = sql.SQL(
    """SELECT (s.stream_id * {kinds} + v.kind) * {stride} + v.slot AS id, s.stream_id, v.kind,
       v.slot AS observed_property_id, v.sensor AS sensor_id, t.thing_id, s.pole_id, s.family,
       s.connector_id, v.metric,
       v.label || ' at pole ' || s.pole_id
           || CASE WHEN s.connector_id > 0 THEN ' connector ' || s.connector_id ELSE '' END
           || v.suffix AS name,
       v.description || ' measured at smart pole ' || s.pole_id || v.suffix AS description,
       v.unit AS unit_of_measurement, v.observation_type,
       NULL::tstzrange AS phenomenon_time, NULL::tstzrange AS result_time,
       jsonb_strip_nulls(jsonb_build_object('poleId', s.pole_id, 'family', s.family,
           'metric', v.metric, 'connectorId', nullif(s.connector_id, 0),
           'aggregateDuration', v.duration, 'aggregateStatistic', v.statistic)) AS properties,
       p.latitude, p.longitude
FROM sta_streams s
JOIN {metrics} ON v.family = s.family
JOIN sta_things t ON t.pole_id = s.pole_id
JOIN poles p ON p.pole_id = s.pole_id"""
).format(kinds=L(KIND_STRIDE), stride=L(METRIC_STRIDE), metrics=METRICS_VALUES)

STATIC_SOURCES: dict[str, sql.Composable] = {
    "Things": THINGS_SQL,
    "Locations": LOCATIONS_SQL,
    "HistoricalLocations": HISTORICAL_SQL,
    "Datastreams": DATASTREAMS_SQL,
    "Sensors": SENSORS_SQL,
    "ObservedProperties": OBSERVED_PROPERTIES_SQL,
    "FeaturesOfInterest": FEATURES_SQL,
}


@dataclass(frozen=True, slots=True)
class StreamScope:
    """Observations of known Datastreams: (datastream id, pole, connector, thing id)
    come from the caller (a parsed path, a page of parents), so the source reads
    the reading table by its primary key without joining the id tables."""

    datastream: sql.Composable
    pole: sql.Composable
    connector: sql.Composable
    thing: sql.Composable


def observation_branch(d: ObservedPropertyDef, scope: StreamScope | None) -> sql.Composed:
    """One metric of one family's readings as Observations."""
    spec = FAMILIES[d.family]
    column = I(d.column)
    common = sql.SQL(
        """r.reading_id * {stride} + {slot} AS id, r.reading_id, r.observed_at AS phenomenon_time,
       NULL::timestamptz AS phenomenon_end, r.observed_at AS result_time,
       r.{column}::float8 AS result,
       NULL::jsonb AS result_quality, NULL::tstzrange AS valid_time,
       jsonb_build_object('receivedAt', r.received_at) AS parameters, r.pole_id, {slot} AS slot"""
    ).format(stride=L(METRIC_STRIDE), slot=L(d.slot), column=column)
    if scope is None:
        connector = I("r", "connector_id") if spec.has_connector else L(0)
        return sql.SQL(
            """SELECT {common}, (s.stream_id * {kinds}) * {stride} + {slot} AS datastream_id,
       t.thing_id AS foi_id
FROM {table} r
JOIN sta_streams s ON s.pole_id = r.pole_id AND s.family = {family} AND s.connector_id = {connector}
JOIN sta_things t ON t.pole_id = r.pole_id
WHERE r.{column} IS NOT NULL"""
        ).format(
            common=common,
            kinds=L(KIND_STRIDE),
            stride=L(METRIC_STRIDE),
            slot=L(d.slot),
            table=I(spec.table),
            family=L(d.family.value),
            connector=connector,
            column=column,
        )
    connector_test = (
        sql.SQL(" AND r.connector_id = {}").format(scope.connector)
        if spec.has_connector
        else sql.SQL("")
    )
    return sql.SQL(
        """SELECT {common}, {ds}::bigint AS datastream_id, {thing}::bigint AS foi_id
FROM {table} r
WHERE r.pole_id = {pole}{connector_test} AND r.{column} IS NOT NULL"""
    ).format(
        common=common,
        ds=scope.datastream,
        thing=scope.thing,
        table=I(spec.table),
        pole=scope.pole,
        connector_test=connector_test,
        column=column,
    )


def aggregate_branch(d: ObservedPropertyDef, kind: StreamKind, scope: StreamScope) -> sql.Composed:
    """One aggregate Datastream's Observations: its rollup's buckets with values.
    phenomenonTime is the bucket (start here, end in `phenomenon_end`); the id is
    made of the Datastream id and the bucket start (models/sensorthings/ids.py)."""
    rollup = AGGREGATE_ROLLUPS[(d.family, kind)]
    column = d.column
    count = I("r", f"{column}_count")
    if d.field.aggregation is Aggregation.ENERGY_MEAN:
        value: sql.Composable = sql.SQL("10 * log10(r.{} / r.{})").format(
            I(energy_sum_column(column)), I(f"{column}_count")
        )
    elif d.field.aggregation is Aggregation.MAX:
        value = sql.SQL("r.{}::float8").format(I(f"{column}_max"))
    else:
        value = sql.SQL("r.{} / r.{}").format(I(f"{column}_sum"), I(f"{column}_count"))
    if rollup.grain == "hour":
        end: sql.Composable = sql.SQL("r.bucket + interval '1 hour'")
    else:
        # The next local midnight (a DST day is 23 or 25 hours long).
        end = sql.SQL("((r.bucket AT TIME ZONE z.zone) + interval '1 day') AT TIME ZONE z.zone")
    connector_test = (
        sql.SQL(" AND r.connector_id = {}").format(scope.connector)
        if rollup.per_connector
        else sql.SQL("")
    )
    hours = sql.SQL("(extract(epoch FROM r.bucket - {epoch}::timestamptz) / 3600)::bigint").format(
        epoch=L(AGGREGATE_EPOCH.isoformat())
    )
    return sql.SQL(
        """SELECT {base}::bigint + ({ds}::bigint << {bits}) + {hours} AS id, {hours} AS reading_id,
       r.bucket AS phenomenon_time, {end} AS phenomenon_end, {end} AS result_time,
       ({value})::float8 AS result, NULL::jsonb AS result_quality, NULL::tstzrange AS valid_time,
       jsonb_strip_nulls(jsonb_build_object('count', {count}, 'min', r.{min}, 'max', r.{max}))
           AS parameters,
       r.pole_id, {slot} AS slot, {ds}::bigint AS datastream_id, {thing}::bigint AS foi_id
FROM {table} r CROSS JOIN (SELECT coalesce(
    (SELECT value FROM {settings} WHERE name = {zone_setting}), 'UTC') AS zone) z
WHERE r.pole_id = {pole}{connector_test} AND {count} > 0"""
    ).format(
        base=L(AGGREGATE_BASE),
        ds=scope.datastream,
        bits=L(AGGREGATE_BUCKET_BITS),
        hours=hours,
        end=end,
        value=value,
        count=count,
        min=I(f"{column}_min"),
        max=I(f"{column}_max"),
        slot=L(d.slot),
        thing=scope.thing,
        table=I(rollup.table),
        settings=I(SETTINGS_TABLE),
        zone_setting=L(LOCAL_ZONE_SETTING),
        pole=scope.pole,
        connector_test=connector_test,
    )


def all_observations() -> sql.Composed:
    """Every Observation (a filter's navigation into Observations reads this)."""
    return sql.SQL(" UNION ALL ").join(
        sql.SQL("({})").format(observation_branch(d, None)) for d in OBSERVED_PROPERTIES.values()
    )


def source(name: str) -> sql.Composable:
    if name == "Observations":
        return all_observations()
    return STATIC_SOURCES[name]


LATEST = LATEST_TABLES
