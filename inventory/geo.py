"""Positions: coordinate systems (pyproj), the city's area, its districts (shapely).

An imported position is turned into WGS 84 longitude/latitude, then checked:
on Earth, not the 0,0 placeholder, inside the city's area (the bounding box
setting, else the envelope of the district boundaries), and - when district
boundaries are configured - inside a district. The messages say what is
probably wrong: projected metres given as degrees, degrees given with
--crs, latitude and longitude swapped.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from pyproj.exceptions import CRSError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from config import ConfigError
from config.base import BoundingBox, CityAreaSettings

WGS84_NAMES = ("EPSG:4326", "OGC:CRS84")
# Projected coordinates are metres from a false origin; in any projected CRS in
# use for a city, both are far beyond what degrees can be.
DEGREES_LOOK_LIKE = 1000.0


class InventoryConfigError(ConfigError):
    """A setting or an option of the inventory is unusable (file-level, not a row)."""


@dataclass(frozen=True)
class CoordinateSystem:
    """The CRS an inventory file's coordinates are in, and the way to WGS 84."""

    name: str
    projected: bool
    wgs84: bool
    transformer: pyproj.Transformer | None

    @classmethod
    def parse(cls, text: str | None) -> CoordinateSystem:
        if text is None or text.strip().upper() in WGS84_NAMES:
            return WGS84
        try:
            crs = pyproj.CRS.from_user_input(text.strip())
        except CRSError:
            raise InventoryConfigError(
                f"unknown coordinate reference system {text[:60]!r} (e.g. EPSG:25832)"
            ) from None
        if not (crs.is_projected or crs.is_geographic) or crs.is_geocentric:
            raise InventoryConfigError(f"{text[:60]!r} is not a geographic or projected CRS")
        epsg = crs.to_epsg()
        name = f"EPSG:{epsg}" if epsg else crs.name
        if epsg == 4326 or crs.equals(pyproj.CRS("OGC:CRS84"), ignore_axis_order=True):
            return WGS84
        transformer = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        return cls(name, crs.is_projected, False, transformer)

    @property
    def axis_fields(self) -> tuple[str, str]:
        """The columns holding the two coordinates (east first)."""
        return ("x", "y") if self.projected else ("longitude", "latitude")

    def to_wgs84(self, east: float, north: float) -> tuple[float, float]:
        """(longitude, latitude); ValueError with the reason when it cannot be one."""
        if not (math.isfinite(east) and math.isfinite(north)):
            raise ValueError("coordinates must be finite numbers")
        if self.transformer is None:
            return east, north
        if self.projected and abs(east) < DEGREES_LOOK_LIKE and abs(north) < DEGREES_LOOK_LIKE:
            raise ValueError(
                f"x={east:g}, y={north:g} look like degrees, not {self.name} metres; "
                "drop --crs for WGS 84 longitude/latitude"
            )
        lon, lat = self.transformer.transform(east, north, errcheck=False)
        if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lat) > 90 or abs(lon) > 180:
            raise ValueError(f"x={east:g}, y={north:g} are not a position in {self.name}")
        return lon, lat


WGS84 = CoordinateSystem("EPSG:4326", projected=False, wgs84=True, transformer=None)


def check_degrees(lon: float, lat: float) -> None:
    """WGS 84 as given: on Earth, not a placeholder, not metres."""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise ValueError("coordinates must be finite numbers")
    if abs(lat) > 90 or abs(lon) > 180:
        if abs(lat) > DEGREES_LOOK_LIKE and abs(lon) > DEGREES_LOOK_LIKE:
            raise ValueError(
                f"longitude {lon:g}, latitude {lat:g} look like projected coordinates "
                "(metres, e.g. ETRS89 / UTM 32N), not degrees; give their CRS with "
                "--crs (e.g. --crs EPSG:25832) and the columns x and y"
            )
        raise ValueError(
            f"latitude must be within -90..90 and longitude within -180..180 "
            f"(got latitude {lat:g}, longitude {lon:g})"
        )
    if lon == 0 and lat == 0:
        raise ValueError("0,0 is a placeholder, not a position (leave both empty if unknown)")


@dataclass(frozen=True)
class Districts:
    """District outlines with a spatial index."""

    names: tuple[str, ...]
    geometries: tuple[BaseGeometry, ...]
    tree: shapely.STRtree

    @classmethod
    def load(cls, path: Path, name_property: str) -> Districts:
        try:
            with path.open("rb") as f:
                document = json.load(f, parse_constant=_no_constants)
        except OSError as exc:
            raise InventoryConfigError(
                f"cannot read SMARTPOLE_DISTRICT_BOUNDARIES {path}: {exc.strerror}"
            ) from None
        except ValueError as exc:
            raise InventoryConfigError(
                f"SMARTPOLE_DISTRICT_BOUNDARIES {path} is not JSON: {exc}"
            ) from None
        return cls.from_geojson(document, name_property, str(path))

    @classmethod
    def from_geojson(cls, document: Any, name_property: str, where: str) -> Districts:
        if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
            raise InventoryConfigError(f"{where}: district boundaries must be a FeatureCollection")
        crs = _legacy_crs(document, where)
        names: list[str] = []
        geometries: list[BaseGeometry] = []
        for number, feature in enumerate(document.get("features") or [], 1):
            props = feature.get("properties") if isinstance(feature, dict) else None
            name = props.get(name_property) if isinstance(props, dict) else None
            if not isinstance(name, str) or not name.strip():
                raise InventoryConfigError(
                    f"{where}: feature {number} has no text property {name_property!r} "
                    "(SMARTPOLE_DISTRICT_NAME_PROPERTY)"
                )
            try:
                geometry = shape(feature.get("geometry"))
            except (AttributeError, TypeError, ValueError, KeyError, shapely.GEOSException):
                raise InventoryConfigError(
                    f"{where}: district {name!r} has no readable geometry"
                ) from None
            if geometry.geom_type not in ("Polygon", "MultiPolygon"):
                raise InventoryConfigError(
                    f"{where}: district {name!r} is a {geometry.geom_type}, not a Polygon"
                )
            if crs.transformer is not None:
                geometry = shapely.transform(geometry, _projector(crs.transformer))
            if not geometry.is_valid:
                raise InventoryConfigError(
                    f"{where}: the outline of {name!r} is not valid ({explain_validity(geometry)})"
                )
            names.append(name.strip())
            geometries.append(geometry)
        if not names:
            raise InventoryConfigError(f"{where}: no districts")
        if len(set(names)) != len(names):
            raise InventoryConfigError(f"{where}: a district name appears twice")
        return cls(tuple(names), tuple(geometries), shapely.STRtree(geometries))

    def containing_each(self, lons: list[float], lats: list[float]) -> list[list[str]]:
        """For each point, the districts covering it (its boundary included), by name,
        in one vectorised query."""
        points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        point_index, district_index = self.tree.query(points, predicate="covered_by")
        found: list[list[str]] = [[] for _ in lons]
        for p, d in zip(point_index.tolist(), district_index.tolist(), strict=True):
            found[p].append(self.names[d])
        for names in found:
            names.sort()
        return found

    def envelope(self) -> BoundingBox:
        min_lon, min_lat, max_lon, max_lat = shapely.total_bounds(list(self.geometries))
        return float(min_lon), float(min_lat), float(max_lon), float(max_lat)


@dataclass(frozen=True)
class CityArea:
    """What positions are checked against: a bounding box and/or the districts."""

    bbox: BoundingBox | None = None
    districts: Districts | None = None

    @classmethod
    def from_settings(cls, settings: CityAreaSettings) -> CityArea:
        districts = None
        if settings.district_boundaries is not None:
            districts = Districts.load(
                settings.district_boundaries, settings.district_name_property
            )
        bbox = settings.bbox
        if bbox is None and districts is not None:
            bbox = districts.envelope()
        return cls(bbox, districts)

    def check(self, lon: float, lat: float) -> None:
        """ValueError unless (lon, lat) lies in the city's area."""
        if self.bbox is None or _inside(self.bbox, lon, lat):
            return
        if _inside(self.bbox, lat, lon):
            raise ValueError(
                f"latitude {lat:g} and longitude {lon:g} look swapped: swapped, the position "
                "lies in the city"
            )
        min_lon, min_lat, max_lon, max_lat = self.bbox
        raise ValueError(
            f"position latitude {lat:g}, longitude {lon:g} is outside the city's area "
            f"(longitude {min_lon:g}..{max_lon:g}, latitude {min_lat:g}..{max_lat:g}; "
            "SMARTPOLE_CITY_BBOX)"
        )

    def choose_district(self, found: list[str], given: str | None, lon: float, lat: float) -> str:
        """The district to store, given the districts `found` at the position: the
        given one, checked against the boundaries, or the one the position lies in.
        Only with districts configured."""
        assert self.districts is not None
        if given is not None:
            if given not in self.districts.names:
                known = ", ".join(sorted(self.districts.names))
                if len(known) > 300:
                    known = known[:297] + "..."
                raise ValueError(f"district {given!r} is not in the district boundaries ({known})")
            if given not in found:
                where = f"lies in {' / '.join(found)}" if found else "lies in no district"
                raise ValueError(
                    f"district {given!r} contradicts the position, which {where}; correct "
                    "one of them, or leave the district empty to take it from the position"
                )
            return given
        if not found:
            raise ValueError(
                f"position latitude {lat:g}, longitude {lon:g} lies in no district of "
                "SMARTPOLE_DISTRICT_BOUNDARIES; give the district or correct the position"
            )
        return found[0]


def _inside(box: BoundingBox, lon: float, lat: float) -> bool:
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _legacy_crs(document: dict[str, Any], where: str) -> CoordinateSystem:
    try:
        name = crs_member_name(document.get("crs"))
        return WGS84 if name is None else CoordinateSystem.parse(name)
    except InventoryConfigError as exc:
        raise InventoryConfigError(f"{where}: {exc}") from None


def _projector(transformer: pyproj.Transformer) -> Any:
    def project(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return project


def crs_member_name(member: Any) -> str | None:
    """The CRS named by a GeoJSON 2008 `crs` member ({"type": "name", "properties":
    {"name": "urn:ogc:def:crs:EPSG::25832"}}), as RFC 7946 files from QGIS still
    carry; None when there is none."""
    if member is None:
        return None
    props = member.get("properties") if isinstance(member, dict) else None
    name = props.get("name") if isinstance(props, dict) else None
    if not isinstance(name, str) or member.get("type") != "name":
        raise InventoryConfigError(
            "the GeoJSON crs member must be {type: name, properties: {name}}"
        )
    return name
