"""The pole registry: what a city's asset register says about each pole.

Declared once here and read by the inventory import and export (the file
columns and their checks), the database schema (`storage/migrations/0006`),
the open-data API's pole model and the README's field table for the city's
GIS team. `public` says whether the open-data API shows a field; internal
fields stay in the database and in `smartpole poles export`.

Free-form properties are columns named `public.KEY` (shown by the API under
`properties`) or `internal.KEY` (never shown). A column the import does not
know is kept as an internal property, so nothing of a city's export is lost
and nothing unreviewed is published.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from models.catalogue import units
from models.catalogue.families import FAMILIES
from models.catalogue.units import Unit
from models.topics import MAX_CONNECTOR_ID, Family
from models.vocabulary import Capability, PlugType


@dataclass(frozen=True, slots=True)
class RegistryField:
    """One column of an inventory file (and of the registry)."""

    name: str
    description: str
    public: bool
    example: str  # as a CSV cell holds it
    unit: Unit | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    vocabulary: type[StrEnum] | None = None


# The lamp's rating and a connector's power are bounded like the readings that
# measure them: a rating above what a lamp may ever draw is a typo.
LAMP_POWER_MAX_W = FAMILIES[Family.LIGHT].field("active_power").maximum
CONNECTOR_POWER_MAX_KW = FAMILIES[Family.EV].field("charging_power").maximum
assert LAMP_POWER_MAX_W is not None and CONNECTOR_POWER_MAX_KW is not None

POLE_ID = RegistryField(
    "pole_id",
    "The platform's pole id, as the pole publishes it (1-64 of A-Z a-z 0-9 _ -, starting "
    "with a letter or digit). Rows are matched by it.",
    public=True,
    example="CR-0001",
)
ASSET_ID = RegistryField(
    "asset_id",
    "The city's own asset number (any text, unique among current poles), kept next to the pole id",
    public=True,
    example="Mast 12/345",
    max_length=100,
)
NAME = RegistryField("name", "Name or address", public=True, example="Marktplatz 1", max_length=200)
DISTRICT = RegistryField(
    "district",
    "District; left empty, it is taken from the district boundaries when they are configured",
    public=True,
    example="Altstadt",
    max_length=100,
)
LATITUDE = RegistryField(
    "latitude", "WGS 84 latitude (decimal degrees)", public=True, example="51.5523",
    minimum=-90.0, maximum=90.0,
)  # fmt: skip
LONGITUDE = RegistryField(
    "longitude", "WGS 84 longitude (decimal degrees)", public=True, example="7.3108",
    minimum=-180.0, maximum=180.0,
)  # fmt: skip
X = RegistryField(
    "x", "Easting in the projected CRS given with --crs (e.g. EPSG:25832, metres)",
    public=False, example="383456.2",
)  # fmt: skip
Y = RegistryField(
    "y", "Northing in the projected CRS given with --crs", public=False, example="5712873.9"
)
CAPABILITIES = RegistryField(
    "capabilities",
    "Installed equipment, separated by `,` `|` or spaces",
    public=True,
    example="env,light,ev",
    vocabulary=Capability,
)
EV_CONNECTORS = RegistryField(
    "ev_connectors",
    "Number of charging connectors (they are numbered 1..n unless ev_connector_ids says otherwise)",
    public=True,
    example="2",
    minimum=0,
    maximum=MAX_CONNECTOR_ID,
)
EV_CONNECTOR_IDS = RegistryField(
    "ev_connector_ids",
    f"Connector ids as the charger publishes them (1-{MAX_CONNECTOR_ID}), separated by `|`",
    public=True,
    example="1|2",
    minimum=1,
    maximum=MAX_CONNECTOR_ID,
)
EV_MAX_POWER_KW = RegistryField(
    "ev_max_power_kw",
    "Rated power of the connectors: one value for all, or one per connector separated by `|`",
    public=True,
    example="22|11",
    unit=units.KILOWATT,
    minimum=0.0,
    maximum=CONNECTOR_POWER_MAX_KW,
)
EV_PLUG_TYPE = RegistryField(
    "ev_plug_type",
    "Plug of the connectors (FIWARE socketType): one for all, or one per connector "
    "separated by `|`",
    public=True,
    example="Type2",
    vocabulary=PlugType,
)
LAMP_RATED_POWER_W = RegistryField(
    "lamp_rated_power_w",
    "Rated power of the lamp",
    public=True,
    example="56",
    unit=units.WATT,
    minimum=0.0,
    maximum=LAMP_POWER_MAX_W,
)
COMMISSIONED_ON = RegistryField(
    "commissioned_on",
    "Commissioning date, YYYY-MM-DD or DD.MM.YYYY",
    public=True,
    example="2024-05-17",
)
NOTES = RegistryField(
    "notes",
    "Remarks, shown publicly (put internal remarks into an internal.* column)",
    public=True,
    example="Ladesäule seit 2025",
    max_length=4000,
)

PUBLIC_PROPERTY_PREFIX = "public."
INTERNAL_PROPERTY_PREFIX = "internal."
PROPERTY_KEY_MAX_LENGTH = 100
PROPERTY_TEXT_MAX_LENGTH = 1000
PROPERTIES_MAX_BYTES = 16 * 1024  # of one pole's properties, as JSON

# Every column of an inventory file, in the order an export writes them.
REGISTRY_FIELDS: tuple[RegistryField, ...] = (
    POLE_ID,
    ASSET_ID,
    NAME,
    DISTRICT,
    LATITUDE,
    LONGITUDE,
    CAPABILITIES,
    EV_CONNECTORS,
    EV_CONNECTOR_IDS,
    EV_MAX_POWER_KW,
    EV_PLUG_TYPE,
    LAMP_RATED_POWER_W,
    COMMISSIONED_ON,
    NOTES,
)
# Positions in a projected CRS (with --crs); never exported.
PROJECTED_POSITION_FIELDS: tuple[RegistryField, ...] = (X, Y)
EV_FIELDS: tuple[RegistryField, ...] = (
    EV_CONNECTORS,
    EV_CONNECTOR_IDS,
    EV_MAX_POWER_KW,
    EV_PLUG_TYPE,
)
