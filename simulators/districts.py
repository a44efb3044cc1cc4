"""Outlines of a simulated city's districts, as GeoJSON, and the area around them.

Generated, not surveyed: the city outline is the district centres' convex hull
widened by OUTLINE_MARGIN_KM, and each district is the part of it nearer to
its centre than to any other (a Voronoi cell, computed in kilometres so it is
true to distance). `simulators.city.layout_fleet` keeps every pole inside its
own cell, so a point-in-polygon lookup gives each pole the district the
simulator assigned. `smartpole up` writes these outlines to .state/ for the
inventory import (and for a map to draw when no tile server is reachable).
"""

from __future__ import annotations

from typing import Any

import shapely
from shapely.geometry import MultiPoint, Point, Polygon
from shapely.geometry.base import BaseGeometry

from simulators.city import MAX_SPREAD_KM, City, district_offsets_km, to_degrees

OUTLINE_MARGIN_KM = MAX_SPREAD_KM + 0.3
# Around the outline, what counts as "in the city" for an import (a position
# beyond it is a typo or swapped coordinates).
AREA_MARGIN_DEGREES = 0.02


def _outline_km(city: City) -> tuple[BaseGeometry, list[tuple[float, float]]]:
    centres = district_offsets_km(city)
    points = MultiPoint(centres)
    return points.convex_hull.buffer(OUTLINE_MARGIN_KM, quad_segs=8), centres


def _to_lon_lat(city: City, polygon: Polygon) -> list[list[list[float]]]:
    rings = [polygon.exterior, *polygon.interiors]
    result = []
    for ring in rings:
        coords = []
        for east, north in ring.coords:
            lat, lon = to_degrees(city, east, north)
            coords.append([round(lon, 7), round(lat, 7)])
        result.append(coords)
    return result


def district_outlines(city: City) -> dict[str, Any]:
    """A FeatureCollection: one Polygon per district, property `name`."""
    outline, centres = _outline_km(city)
    cells = shapely.voronoi_polygons(MultiPoint(centres), extend_to=outline)
    features = []
    for district, centre in zip(city.districts, centres, strict=True):
        cell = next(c for c in cells.geoms if c.covers(Point(centre)))
        shape = cell.intersection(outline)
        assert isinstance(shape, Polygon), shape.geom_type
        features.append(
            {
                "type": "Feature",
                "properties": {"name": district.name, "city": city.name},
                "geometry": {"type": "Polygon", "coordinates": _to_lon_lat(city, shape)},
            }
        )
    return {"type": "FeatureCollection", "name": f"{city.name} districts", "features": features}


def city_bbox(city: City) -> tuple[float, float, float, float]:
    """minLon, minLat, maxLon, maxLat of the outline, widened by AREA_MARGIN_DEGREES."""
    outline, _ = _outline_km(city)
    min_e, min_n, max_e, max_n = outline.bounds
    min_lat, min_lon = to_degrees(city, min_e, min_n)
    max_lat, max_lon = to_degrees(city, max_e, max_n)
    m = AREA_MARGIN_DEGREES
    return (
        round(min_lon - m, 4),
        round(min_lat - m, 4),
        round(max_lon + m, 4),
        round(max_lat + m, 4),
    )
