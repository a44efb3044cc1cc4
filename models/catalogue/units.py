"""Units of measurement: how each is shown, coded and defined.

`symbol` is what people read (API docs, dashboards), `ucum` the Unified Code
for Units of Measure code machines exchange (SensorThings `unitOfMeasurement`),
`definition` a public vocabulary URI (QUDT), `grafana` the unit id of
Grafana's field config.
"""

from __future__ import annotations

from dataclasses import dataclass

QUDT_UNIT = "http://qudt.org/vocab/unit/"


@dataclass(frozen=True, slots=True)
class Unit:
    symbol: str
    ucum: str
    name: str
    definition: str
    grafana: str


MICROGRAM_PER_CUBIC_METRE = Unit(
    "µg/m³", "ug/m3", "microgram per cubic metre", QUDT_UNIT + "MicroGM-PER-M3", "conµgm3"
)
DEGREE_CELSIUS = Unit("°C", "Cel", "degree Celsius", QUDT_UNIT + "DEG_C", "celsius")
PERCENT = Unit("%", "%", "percent", QUDT_UNIT + "PERCENT", "percent")
HECTOPASCAL = Unit("hPa", "hPa", "hectopascal", QUDT_UNIT + "HectoPA", "pressurehpa")
# UCUM has no code for A-weighting (QUDT's DeciB_A has none either): the UCUM
# code is the decibel, the weighting is part of the observed property (LAeq, LAmax).
DECIBEL_A = Unit("dB(A)", "dB", "decibel (A-weighted)", QUDT_UNIT + "DeciB_A", "dB")
WATT = Unit("W", "W", "watt", QUDT_UNIT + "W", "watt")
KILOWATT = Unit("kW", "kW", "kilowatt", QUDT_UNIT + "KiloW", "kwatt")
KILOWATT_HOUR = Unit("kWh", "kW.h", "kilowatt hour", QUDT_UNIT + "KiloW-HR", "kwatth")
BYTE = Unit("bytes", "By", "byte", QUDT_UNIT + "BYTE", "decbytes")
CLIENTS = Unit("clients", "{clients}", "number of clients", QUDT_UNIT + "NUM", "short")
FRACTION = Unit("1", "1", "fraction (0 to 1)", QUDT_UNIT + "UNITLESS", "percentunit")
