"""How the domain maps onto the SensorThings data model, derived from the catalogue.

| SensorThings | smartpole |
|---|---|
| Thing | a pole (properties from the registry) |
| Location, FeatureOfInterest | the pole's position |
| HistoricalLocation | a registry change that set the pole's position |
| Sensor | the kind of device of a family (`FamilySpec.sensor`) |
| ObservedProperty | a metric (`FieldSpec.label`, `FieldSpec.definition`) |
| Datastream | (pole, metric[, connector]); plus hourly/daily aggregates of it |
| Observation | one value of one reading (or one rollup bucket) |

Only the frozen slots (ids) are written here; names, units, definitions and
descriptions are the catalogue's.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.catalogue.families import FAMILIES, METRIC_FAMILIES, FamilySpec, FieldSpec
from models.catalogue.units import Unit
from models.sensorthings.ids import METRIC_STRIDE, StreamKind
from models.topics import Family

# Append-only (ids are stable): a new metric takes the next number.
METRIC_SLOTS: dict[tuple[Family, str], int] = {
    (Family.ENV, "pm25"): 1,
    (Family.ENV, "pm10"): 2,
    (Family.ENV, "no2"): 3,
    (Family.ENV, "o3"): 4,
    (Family.ENV, "temperature"): 5,
    (Family.ENV, "relative_humidity"): 6,
    (Family.ENV, "atmospheric_pressure"): 7,
    (Family.ENV, "laeq"): 8,
    (Family.ENV, "lamax"): 9,
    (Family.LIGHT, "illuminance_level"): 10,
    (Family.LIGHT, "active_power"): 11,
    (Family.LIGHT, "total_active_energy_import"): 12,
    (Family.WIFI, "connected_clients"): 13,
    (Family.WIFI, "bytes_in"): 14,
    (Family.WIFI, "bytes_out"): 15,
    (Family.EV, "charging_power"): 16,
    (Family.EV, "total_active_energy_import"): 17,
}
SENSOR_SLOTS: dict[Family, int] = {Family.ENV: 1, Family.LIGHT: 2, Family.WIFI: 3, Family.EV: 4}
assert all(0 < s < METRIC_STRIDE for s in METRIC_SLOTS.values())
assert len(set(METRIC_SLOTS.values())) == len(METRIC_SLOTS)

OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/"
OM_MEASUREMENT = OM + "OM_Measurement"
OM_COUNT = OM + "OM_CountObservation"
AGGREGATE_DURATION: dict[StreamKind, str] = {StreamKind.HOURLY: "PT1H", StreamKind.DAILY: "P1D"}


@dataclass(frozen=True, slots=True)
class ObservedPropertyDef:
    slot: int
    family: Family
    field: FieldSpec

    @property
    def column(self) -> str:
        return self.field.column

    @property
    def unit(self) -> Unit:
        assert self.field.unit is not None
        return self.field.unit

    @property
    def observation_type(self) -> str:
        return OM_COUNT if self.field.pg_type.startswith("int") else OM_MEASUREMENT

    def entity(self) -> dict[str, object]:
        return {
            "name": self.field.label,
            "definition": self.field.definition,
            "description": self.field.description,
            "properties": {"family": self.family.value, "metric": self.column},
        }

    def unit_of_measurement(self) -> dict[str, str]:
        unit = self.unit
        return {"name": unit.name, "symbol": unit.symbol, "definition": unit.definition}


@dataclass(frozen=True, slots=True)
class SensorDef:
    slot: int
    spec: FamilySpec

    def entity(self) -> dict[str, object]:
        return {
            "name": self.spec.sensor,
            "description": f"{self.spec.title}: {self.spec.sensor}",
            "encodingType": "text/plain",
            "metadata": self.spec.sensor,
            "properties": {"family": self.spec.family.value},
        }


OBSERVED_PROPERTIES: dict[int, ObservedPropertyDef] = {
    slot: ObservedPropertyDef(slot, family, FAMILIES[family].field(column))
    for (family, column), slot in sorted(METRIC_SLOTS.items(), key=lambda kv: kv[1])
}
SENSORS: dict[int, SensorDef] = {
    slot: SensorDef(slot, FAMILIES[family]) for family, slot in SENSOR_SLOTS.items()
}
FAMILY_PROPERTIES: dict[Family, tuple[ObservedPropertyDef, ...]] = {
    family: tuple(p for p in OBSERVED_PROPERTIES.values() if p.family is family)
    for family in METRIC_FAMILIES
}
assert set(SENSOR_SLOTS) == set(METRIC_FAMILIES), "a Sensor per family with metrics"
assert {(p.family, p.column) for p in OBSERVED_PROPERTIES.values()} == {
    (f, m.column) for f in METRIC_FAMILIES for m in FAMILIES[f].metrics
}, "every catalogue metric has a slot"

ENTITY_SETS: tuple[str, ...] = (
    "Things",
    "Locations",
    "HistoricalLocations",
    "Datastreams",
    "Sensors",
    "ObservedProperties",
    "Observations",
    "FeaturesOfInterest",
)
STA = "http://www.opengis.net/spec/iot_sensing/1.1/req/"
# Only what is implemented: read-only (no create-update-delete), no MQTT yet.
CONFORMANCE: tuple[str, ...] = (
    STA + "datamodel",
    STA + "resource-path/resource-path-to-entities",
    STA + "request-data",
    STA + "data-array/data-array",
    "https://fraunhoferiosb.github.io/FROST-Server/extensions/ResultFormatCSV.html",
    "https://fraunhoferiosb.github.io/FROST-Server/extensions/ResultFormatGeoJSON.html",
)
