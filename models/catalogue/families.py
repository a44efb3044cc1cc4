"""Metric families and their fields: the one declaration every layer reads.

A family is one MQTT topic kind, one wire model and one storage table. Each
of its fields is declared once here, with its storage column (which is also
the Python attribute of the wire model and the metric name of the API), its
wire name (FIWARE where one exists), its PostgreSQL type, unit, physical
range and aggregation rule. The wire models take their constraints from
here, the writer its COPY layout, the read side its column lists and metric
whitelist, the API its enums and response schemas, the dashboards their
units, and `tests/models/test_catalogue.py` checks the migrated schema and
every generated artefact against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Literal

from models.catalogue import units
from models.catalogue.units import Unit
from models.topics import Family
from models.vocabulary import (
    Capability,
    LampStatus,
    OcppErrorCode,
    OcppStatus,
    PoleConnection,
    PowerState,
    WifiStatus,
)

PgType = Literal["float4", "float8", "int4", "int8", "text"]


class Aggregation(StrEnum):
    """How readings of a field combine into one value for a time bucket."""

    MEAN = "mean"
    # Sound levels are logarithmic: 10·log10 of the mean of 10^(L/10), not the mean of dB.
    ENERGY_MEAN = "energy_mean"
    MAX = "max"
    SUM = "sum"
    # A state (lamp on/off, OCPP status): the newest reading of the bucket.
    LAST = "last"
    # A cumulative meter (kWh, bytes): the increase between consecutive readings.
    COUNTER_DELTA = "counter_delta"


class CounterReset(StrEnum):
    """What a cumulative counter going backwards means."""

    # The meter was replaced or reset to an unknown value: that step counts nothing.
    IGNORE = "ignore"
    # The counter restarted from zero (a reboot): its new value is the increase since.
    RESTART = "restart"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One stored field of a family's readings."""

    column: str
    wire: str
    pg_type: PgType
    description: str
    aggregation: Aggregation
    unit: Unit | None = None
    minimum: float | None = None
    maximum: float | None = None
    vocabulary: type[StrEnum] | None = None
    required: bool = False
    default: StrEnum | None = None
    # The public name of what is observed (SensorThings ObservedProperty name; for
    # pollutants the names FROST's EEA importer uses) and a vocabulary URI defining it.
    label: str = ""
    definition: str = ""
    # The label as people read it (subscripts): NO₂.
    display: str = ""
    # COUNTER_DELTA fields: how a decrease is read.
    counter_reset: CounterReset | None = None

    @property
    def title(self) -> str:
        return self.display or self.label or self.column

    @property
    def is_metric(self) -> bool:
        """A measured quantity with a unit: it has a numeric series."""
        return self.unit is not None

    @property
    def energetic(self) -> bool:
        return self.aggregation is Aggregation.ENERGY_MEAN

    def describe(self) -> str:
        """The field's description with its unit or values, as the wire model documents it."""
        if self.unit is not None:
            return f"{self.description}, {self.unit.symbol}"
        if self.vocabulary is not None:
            return f"{self.description}: " + ", ".join(v.value for v in self.vocabulary)
        return self.description


@dataclass(frozen=True, slots=True)
class StateTime:
    """Time a device spends in some states, e.g. a lamp's burn time: each reading
    holds until the next one, for at most `holds_for` (a gap in the data is not
    time in that state). The newest reading counts once its successor arrives."""

    name: str  # the measure's name: burn -> burn_s (seconds)
    field: str  # the state column
    states: frozenset[str]
    holds_for: timedelta
    description: str


@dataclass(frozen=True, slots=True)
class FamilySpec:
    family: Family
    title: str
    table: str
    # The FIWARE Smart Data Model the wire names follow, where one exists.
    fiware_type: str | None
    capability: Capability | None  # None: every pole publishes it (status)
    has_connector: bool
    fields: tuple[FieldSpec, ...]
    # How often a pole reports this family; None: only on change (status).
    expected_cadence: timedelta | None
    # The kind of device that produces it (a SensorThings Sensor).
    sensor: str
    # Time-in-state measures the daily rollups keep (burn hours, occupied time).
    state_times: tuple[StateTime, ...] = ()
    # A field naming a session (EV transaction): a reading whose value differs
    # from the previous reading's starts a new session.
    session_field: str | None = None

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The natural key: a reading is (pole, [connector], device time)."""
        if self.has_connector:
            return ("pole_id", "connector_id", "observed_at")
        return ("pole_id", "observed_at")

    @property
    def value_columns(self) -> tuple[str, ...]:
        return tuple(f.column for f in self.fields)

    @property
    def metrics(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.is_metric)

    def field(self, column: str) -> FieldSpec:
        for spec in self.fields:
            if spec.column == column:
                return spec
        raise KeyError(f"family {self.family.value} has no field {column!r}")


# A lamp burns when on or dimmed; a connector is occupied while a vehicle is plugged in.
BURNING_STATES: frozenset[str] = frozenset({PowerState.ON.value, PowerState.LOW.value})
OCCUPIED_STATES: frozenset[str] = frozenset(
    s.value
    for s in (OcppStatus.CHARGING, OcppStatus.SUSPENDED_EV, OcppStatus.SUSPENDED_EVSE,
              OcppStatus.FINISHING)
)  # fmt: skip
# How long a state reading holds without a successor: with a 60 s cadence an hour
# of silence is a gap in the data, not an hour of burning (or charging).
STATE_HOLDS_FOR = timedelta(hours=1)

# ObservedProperty definitions: the EEA's air-quality pollutant vocabulary for the
# regulated pollutants (as FROST's EEA importer and the EEA's e-reporting use it),
# QUDT quantity kinds for the rest.
EEA_POLLUTANT = "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/"
QUDT_KIND = "http://qudt.org/vocab/quantitykind/"


def _concentration(
    column: str, description: str, label: str, eea_id: int, display: str
) -> FieldSpec:
    return FieldSpec(
        column,
        column,
        "float4",
        description,
        Aggregation.MEAN,
        unit=units.MICROGRAM_PER_CUBIC_METRE,
        minimum=0.0,
        maximum=5000.0,
        label=label,
        definition=f"{EEA_POLLUTANT}{eea_id}",
        display=display,
    )


def _sound_level(column: str, wire: str, description: str, how: Aggregation) -> FieldSpec:
    return FieldSpec(
        column,
        wire,
        "float4",
        description,
        how,
        unit=units.DECIBEL_A,
        minimum=0.0,
        maximum=160.0,
        label=wire,
        definition=QUDT_KIND + "SoundPressureLevel",
    )


def _energy_meter(description: str) -> FieldSpec:
    return FieldSpec(
        "total_active_energy_import",
        "totalActiveEnergyImport",
        "float8",
        description,
        Aggregation.COUNTER_DELTA,
        unit=units.KILOWATT_HOUR,
        minimum=0.0,
        maximum=1e9,
        label="Energy imported",
        definition=QUDT_KIND + "Energy",
        counter_reset=CounterReset.IGNORE,
    )


def _byte_counter(column: str, wire: str, description: str, label: str) -> FieldSpec:
    return FieldSpec(
        column,
        wire,
        "int8",
        description,
        Aggregation.COUNTER_DELTA,
        unit=units.BYTE,
        minimum=0,
        maximum=2**63 - 1,
        label=label,
        definition=QUDT_KIND + "InformationEntropy",
        counter_reset=CounterReset.RESTART,
    )


ENV = FamilySpec(
    family=Family.ENV,
    title="Air quality, weather and noise",
    table="env_readings",
    fiware_type="AirQualityObserved",
    capability=Capability.ENV,
    has_connector=False,
    expected_cadence=timedelta(seconds=60),
    sensor="environment sensor head (optical particle counter, electrochemical gas "
    "cells, weather sensors, sound level meter)",
    fields=(
        _concentration("pm25", "PM2.5 concentration", "PM2.5", 6001, "PM2.5"),
        _concentration("pm10", "PM10 concentration", "PM10", 5, "PM10"),
        _concentration("no2", "Nitrogen dioxide concentration", "NO2", 8, "NO₂"),
        _concentration("o3", "Ozone concentration", "O3", 7, "O₃"),
        FieldSpec("temperature", "temperature", "float4", "Air temperature", Aggregation.MEAN,
                  unit=units.DEGREE_CELSIUS, minimum=-60.0, maximum=70.0,
                  label="Air temperature", definition=QUDT_KIND + "Temperature"),
        FieldSpec("relative_humidity", "relativeHumidity", "float4", "Relative humidity",
                  Aggregation.MEAN, unit=units.PERCENT, minimum=0.0, maximum=100.0,
                  label="Relative humidity", definition=QUDT_KIND + "RelativeHumidity"),
        FieldSpec("atmospheric_pressure", "atmosphericPressure", "float4", "Air pressure",
                  Aggregation.MEAN, unit=units.HECTOPASCAL, minimum=800.0, maximum=1100.0,
                  label="Air pressure", definition=QUDT_KIND + "AtmosphericPressure"),
        _sound_level("laeq", "LAeq", "A-weighted equivalent sound level",
                     Aggregation.ENERGY_MEAN),
        _sound_level("lamax", "LAmax", "A-weighted maximum sound level", Aggregation.MAX),
    ),
)  # fmt: skip

LIGHT = FamilySpec(
    family=Family.LIGHT,
    title="Street lighting",
    table="light_readings",
    fiware_type="Streetlight",
    capability=Capability.LIGHT,
    has_connector=False,
    expected_cadence=timedelta(seconds=60),
    sensor="lamp controller",
    state_times=(
        StateTime("burn", "power_state", BURNING_STATES, STATE_HOLDS_FOR,
                  "Lamp on or dimmed"),
    ),
    fields=(
        FieldSpec("power_state", "powerState", "text", "Lamp state (low: dimmed)",
                  Aggregation.LAST, vocabulary=PowerState, required=True),
        FieldSpec("illuminance_level", "illuminanceLevel", "float4",
                  "Dim level, 0 (off) to 1 (full)", Aggregation.MEAN, unit=units.FRACTION,
                  minimum=0.0, maximum=1.0, label="Dim level",
                  definition=QUDT_KIND + "DimensionlessRatio"),
        FieldSpec("active_power", "activePower", "float4", "Lamp power draw", Aggregation.MEAN,
                  unit=units.WATT, minimum=0.0, maximum=5000.0, label="Lamp power",
                  definition=QUDT_KIND + "ActivePower"),
        _energy_meter("Lamp energy meter"),
        FieldSpec("lamp_status", "status", "text", "Lamp health (FIWARE Streetlight status)",
                  Aggregation.LAST, vocabulary=LampStatus),
    ),
)  # fmt: skip

WIFI = FamilySpec(
    family=Family.WIFI,
    title="Public Wi-Fi",
    table="wifi_readings",
    fiware_type=None,
    capability=Capability.WIFI,
    has_connector=False,
    expected_cadence=timedelta(seconds=60),
    sensor="public Wi-Fi access point",
    fields=(
        FieldSpec("status", "status", "text", "Access point state", Aggregation.LAST,
                  vocabulary=WifiStatus, required=True),
        FieldSpec("connected_clients", "connectedClients", "int4",
                  "Clients connected to the hotspot", Aggregation.MEAN, unit=units.CLIENTS,
                  minimum=0, maximum=10_000, required=True, label="Connected clients",
                  definition=QUDT_KIND + "Count"),
        _byte_counter("bytes_in", "bytesIn", "Bytes received since boot (counter)",
                      "Bytes received"),
        _byte_counter("bytes_out", "bytesOut", "Bytes sent since boot (counter)", "Bytes sent"),
    ),
)  # fmt: skip

EV = FamilySpec(
    family=Family.EV,
    title="EV charging",
    table="ev_readings",
    fiware_type="EVChargingStation",
    capability=Capability.EV,
    has_connector=True,
    expected_cadence=timedelta(seconds=60),
    sensor="charging connector (OCPP 1.6)",
    state_times=(
        StateTime("occupied", "status", OCCUPIED_STATES, STATE_HOLDS_FOR,
                  "A vehicle plugged in (charging, suspended or finishing)"),
    ),
    session_field="transaction_id",
    fields=(
        FieldSpec("status", "status", "text", "OCPP 1.6 connector status", Aggregation.LAST,
                  vocabulary=OcppStatus, required=True),
        FieldSpec("error_code", "errorCode", "text", "OCPP 1.6 error code", Aggregation.LAST,
                  vocabulary=OcppErrorCode, default=OcppErrorCode.NO_ERROR),
        FieldSpec("charging_power", "chargingPower", "float4",
                  "Power delivered by the connector", Aggregation.MEAN, unit=units.KILOWATT,
                  minimum=0.0, maximum=400.0, label="Charging power",
                  definition=QUDT_KIND + "ActivePower"),
        _energy_meter("Connector energy meter"),
        FieldSpec("transaction_id", "transactionId", "text",
                  "Charging session id, while one runs", Aggregation.LAST),
    ),
)  # fmt: skip

STATUS = FamilySpec(
    family=Family.STATUS,
    title="Pole status",
    table="status_events",
    fiware_type=None,
    capability=None,
    has_connector=False,
    expected_cadence=None,
    sensor="pole controller",
    fields=(
        FieldSpec("status", "status", "text", "Pole connection (the last-will says offline)",
                  Aggregation.LAST, vocabulary=PoleConnection, required=True),
        FieldSpec("firmware_version", "firmwareVersion", "text", "Firmware version",
                  Aggregation.LAST),
    ),
)  # fmt: skip

FAMILIES: dict[Family, FamilySpec] = {spec.family: spec for spec in (ENV, LIGHT, WIFI, EV, STATUS)}
assert set(FAMILIES) == set(Family), "every family of the topic contract is declared"

# Which families a capability implies; every pole also publishes its status.
CAPABILITY_FAMILIES: dict[Capability, tuple[Family, ...]] = {
    capability: tuple(s.family for s in FAMILIES.values() if s.capability is capability)
    for capability in Capability
}
# Families that carry measurements (a numeric series); status does not.
METRIC_FAMILIES: tuple[Family, ...] = tuple(f for f, s in FAMILIES.items() if s.metrics)
# Env metric columns, in COPY and rollup order.
ENV_METRICS: tuple[str, ...] = tuple(f.column for f in ENV.metrics)


def family_of_capability(capability: Capability) -> FamilySpec:
    (family,) = CAPABILITY_FAMILIES[capability]
    return FAMILIES[family]


def find_metric(family: Family, column: str) -> FieldSpec | None:
    """The metric `column` of `family`, or None (the API's whitelist)."""
    spec = FAMILIES.get(family)
    if spec is None:
        return None
    return next((f for f in spec.metrics if f.column == column), None)
