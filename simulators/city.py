"""Where the simulated poles stand and what each one has installed."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field

from models.catalogue.families import CAPABILITY_FAMILIES
from models.topics import POLE_ID_PATTERN, Family
from models.vocabulary import Capability

# Castrop-Rauxel's districts with approximate centres (offsets in km east and
# north of the town centre at 51.55 N, 7.31 E), so a default fleet spreads
# over places a technician recognises.
CASTROP_RAUXEL_DISTRICTS: tuple[tuple[str, float, float], ...] = (
    ("Altstadt", 0.0, 0.0),
    ("Rauxel", -1.2, 1.6),
    ("Habinghorst", -3.0, 2.4),
    ("Ickern", -2.0, 4.5),
    ("Henrichenburg", 0.8, 5.0),
    ("Becklem", 1.8, 3.4),
    ("Pöppinghausen", -4.2, 3.6),
    ("Dingen", -3.8, 0.8),
    ("Deininghausen", 2.8, 1.2),
    ("Obercastrop", 0.9, -1.3),
    ("Behringhausen", -1.0, -1.6),
    ("Schwerin", 2.0, -0.4),
    ("Frohlinde", 1.8, -3.0),
    ("Merklinde", -0.8, -3.2),
    ("Bövinghausen", -2.4, -2.6),
)
DEFAULT_CITY = "Castrop-Rauxel"
DEFAULT_LATITUDE = 51.55
DEFAULT_LONGITUDE = 7.31
KM_PER_DEGREE_LATITUDE = 111.32
# Districts of any other city: the centre and eight compass sectors at 2.5 km.
_SECTORS = (
    "North", "North-East", "East", "South-East", "South", "South-West", "West", "North-West",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class District:
    name: str
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class City:
    name: str
    latitude: float
    longitude: float
    districts: tuple[District, ...]

    @classmethod
    def named(cls, name: str, latitude: float, longitude: float) -> City:
        if not -66 <= latitude <= 66:
            # Beyond the polar circles lamps would stay on or off for weeks;
            # the behaviour model is built for cities with a night every day.
            raise ValueError("latitude must be within ±66° (a city with day and night)")
        if not -180 <= longitude <= 180:
            raise ValueError("longitude must be within ±180°")
        if name == DEFAULT_CITY:
            offsets = CASTROP_RAUXEL_DISTRICTS
        else:
            offsets = (
                ("Centre", 0.0, 0.0),
                *(
                    (sector, 2.5 * math.sin(i * math.pi / 4), 2.5 * math.cos(i * math.pi / 4))
                    for i, sector in enumerate(_SECTORS)
                ),
            )
        km_per_degree_longitude = KM_PER_DEGREE_LATITUDE * math.cos(math.radians(latitude))
        districts = tuple(
            District(
                district,
                latitude + north_km / KM_PER_DEGREE_LATITUDE,
                longitude + east_km / km_per_degree_longitude,
            )
            for district, east_km, north_km in offsets
        )
        return cls(name, latitude, longitude, districts)

    def pole_id_prefix(self) -> str:
        """Initials of the city's name: Castrop-Rauxel -> CR."""
        words = re.findall(r"[A-Za-z0-9]+", self.name)
        return "".join(word[0].upper() for word in words)[:8] or "P"


@dataclass(frozen=True, slots=True)
class PoleSpec:
    pole_id: str
    district: str
    latitude: float
    longitude: float
    has_env: bool
    has_wifi: bool
    ev_connectors: int  # 0: no charger
    ev_power_kw: float  # AC: 11 or 22
    lamp_watts: float
    firmware_version: str
    # Seconds after each reporting tick this pole publishes: real poles are
    # not synchronised, and the spread keeps the broker from seeing bursts.
    phase_s: float = 0.0
    families: tuple[Family, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not POLE_ID_PATTERN.fullmatch(self.pole_id):
            raise ValueError(f"invalid pole id {self.pole_id!r}")
        installed = [Capability.LIGHT]
        if self.has_env:
            installed.append(Capability.ENV)
        if self.has_wifi:
            installed.append(Capability.WIFI)
        if self.ev_connectors:
            installed.append(Capability.EV)
        families = tuple(f for capability in installed for f in CAPABILITY_FAMILIES[capability])
        object.__setattr__(self, "families", families)

    def capabilities(self) -> list[str]:
        return sorted(
            c.value for c in Capability if set(CAPABILITY_FAMILIES[c]) <= set(self.families)
        )


# Share of poles with each optional capability: every pole is a streetlight,
# most have the sensor head, fewer the access point, a quarter a charger.
ENV_SHARE = 0.7
WIFI_SHARE = 0.4
EV_SHARE = 0.25
FIRMWARE_VERSIONS = ("2.4.1", "2.4.1", "2.4.1", "2.5.0")


# Poles scatter around their district's centre (normal, sigma 0.4 km), at most
# MAX_SPREAD_KM from it, and always at least DISTRICT_MARGIN_KM closer to their own
# centre than to any other: the district outlines (simulators/districts.py) are
# the centres' Voronoi cells, so every pole lies inside the district it names.
SPREAD_KM = 0.4
MAX_SPREAD_KM = 1.2
DISTRICT_MARGIN_KM = 0.05


def km_per_degree_longitude(city: City) -> float:
    return KM_PER_DEGREE_LATITUDE * math.cos(math.radians(city.latitude))


def district_offsets_km(city: City) -> list[tuple[float, float]]:
    """Each district centre as (km east, km north) of the city centre."""
    per_lon = km_per_degree_longitude(city)
    return [
        (
            (d.longitude - city.longitude) * per_lon,
            (d.latitude - city.latitude) * KM_PER_DEGREE_LATITUDE,
        )
        for d in city.districts
    ]


def to_degrees(city: City, east_km: float, north_km: float) -> tuple[float, float]:
    """(latitude, longitude) of a point given in km east and north of the centre."""
    return (
        city.latitude + north_km / KM_PER_DEGREE_LATITUDE,
        city.longitude + east_km / km_per_degree_longitude(city),
    )


def _inside_district(
    centres: list[tuple[float, float]], index: int, east: float, north: float
) -> tuple[float, float]:
    """The offset (east, north) from centre `index`, pulled in until the point is
    clearly nearest to that centre."""
    radius = math.hypot(east, north)
    if radius > MAX_SPREAD_KM:
        east, north = east * MAX_SPREAD_KM / radius, north * MAX_SPREAD_KM / radius
    cx, cy = centres[index]
    for _ in range(30):
        x, y = cx + east, cy + north
        own = math.hypot(east, north)
        others = min(
            (math.hypot(x - ox, y - oy) for i, (ox, oy) in enumerate(centres) if i != index),
            default=math.inf,
        )
        if others - own >= DISTRICT_MARGIN_KM:
            break
        east, north = east / 2, north / 2
    return east, north


def fleet_pole_ids(city: City, count: int) -> list[str]:
    """The ids of a fleet of `count` poles in `city` (the seed does not change them)."""
    prefix = city.pole_id_prefix()
    width = max(4, len(str(count)))
    return [f"{prefix}-{number:0{width}d}" for number in range(1, count + 1)]


def layout_fleet(city: City, count: int, rng: random.Random, interval_s: float) -> list[PoleSpec]:
    """`count` poles spread over the city's districts, with seeded capabilities."""
    centres = district_offsets_km(city)
    poles = []
    for number, pole_id in enumerate(fleet_pole_ids(city, count), start=1):
        index = (number - 1) % len(city.districts)
        district = city.districts[index]
        has_ev = rng.random() < EV_SHARE
        north = rng.gauss(0, SPREAD_KM)
        east = rng.gauss(0, SPREAD_KM)
        east, north = _inside_district(centres, index, east, north)
        latitude, longitude = to_degrees(city, centres[index][0] + east, centres[index][1] + north)
        poles.append(
            PoleSpec(
                pole_id=pole_id,
                district=district.name,
                latitude=round(latitude, 6),
                longitude=round(longitude, 6),
                has_env=rng.random() < ENV_SHARE,
                has_wifi=rng.random() < WIFI_SHARE,
                ev_connectors=rng.choice((1, 2)) if has_ev else 0,
                ev_power_kw=rng.choice((11.0, 22.0)),
                lamp_watts=rng.choice((39.0, 56.0, 72.0, 90.0)),
                firmware_version=rng.choice(FIRMWARE_VERSIONS),
                phase_s=round(rng.uniform(0, interval_s), 3),
            )
        )
    return poles


def seeded_fleet(city: City, count: int, seed: int, interval_s: float) -> list[PoleSpec]:
    """The fleet `smartpole simulate fleet --seed SEED` simulates (its layout draws
    from a generator of its own, so the same seed always gives the same poles)."""
    return layout_fleet(city, count, random.Random(f"{seed}:fleet"), interval_s)


def single_pole(pole_id: str, city: City, families: set[Family]) -> PoleSpec:
    """One pole with the given capabilities, in the city centre (commissioning)."""
    return PoleSpec(
        pole_id=pole_id,
        district=city.districts[0].name,
        latitude=city.latitude,
        longitude=city.longitude,
        has_env=Family.ENV in families,
        has_wifi=Family.WIFI in families,
        ev_connectors=1 if Family.EV in families else 0,
        ev_power_kw=22.0,
        lamp_watts=56.0,
        firmware_version=FIRMWARE_VERSIONS[0],
    )
