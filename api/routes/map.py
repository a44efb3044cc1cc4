"""What the public map reads besides the general endpoints: its configuration (tile
source, the European Air Quality Index bands, units, EU limits: all from the
catalogue and the settings), the state of every pole in one answer, and the
configured district outlines (drawn when there are no tiles)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from shapely.geometry import mapping
from starlette.responses import Response

from api.deps import ApiState, Db, State
from api.params import DistrictQuery
from api.problems import COMMON_PROBLEMS
from api.routes.common import respond_page
from models.catalogue.air_quality import (
    EAQI_24H,
    EAQI_BANDS,
    EAQI_CITATION,
    EAQI_HOURLY_MAX_AGE_HOURS,
    EAQI_MIN_HOURS_24H,
    EAQI_POLLUTANTS,
    EAQI_VERSION,
    EAQI_WINDOW_HOURS,
    EU_STANDARDS,
    INDICATIVE_NOTICE,
    STATISTICS_TIME_CONVENTION,
    eaqi_band,
    eaqi_overall,
    rule_set_in_force,
)
from models.catalogue.families import FAMILIES
from models.catalogue.health import (
    DAY_BURNER_SUN_ELEVATION_DEG,
    LIT_POWER_STATES,
    is_charger_fault,
    is_lamp_fault,
)
from models.sun import solar_elevation
from models.topics import Family
from models.vocabulary import OcppStatus
from storage.queries import map as map_queries

router = APIRouter(prefix="/v1/map", tags=["map"])

# How the map groups OCPP statuses (its legend: free / charging / faulted / other).
FREE_STATUSES = (OcppStatus.AVAILABLE,)
CHARGING_STATUSES = (
    OcppStatus.PREPARING,
    OcppStatus.CHARGING,
    OcppStatus.SUSPENDED_EV,
    OcppStatus.SUSPENDED_EVSE,
    OcppStatus.FINISHING,
)


def map_config(state: ApiState, now: datetime) -> dict[str, Any]:
    """Everything the page needs to know that is not a reading: built from the
    catalogue and the settings, so the JavaScript restates none of it."""
    settings = state.settings
    year = now.year
    return {
        "tiles": (
            {"url": settings.api_map_tile_url, "attribution": settings.api_map_tile_attribution}
            if settings.api_map_tile_url
            else None
        ),
        "license": {"id": state.license.id, "url": state.license.url},
        "time_zone": settings.timezone,
        "aqi": {
            "version": EAQI_VERSION,
            "citation": EAQI_CITATION,
            "bands": [
                {
                    "level": b.level,
                    "key": b.key,
                    "label": {"en": b.label_en, "de": b.label_de},
                    "colour": b.colour,
                }
                for b in EAQI_BANDS
            ],
            "pollutants": [
                {
                    "pollutant": p.pollutant,
                    "display": FAMILIES[Family.ENV].field(p.pollutant).title,
                    "averaging": p.averaging,
                    "upper_bounds": list(p.upper_bounds),
                }
                for p in EAQI_POLLUTANTS
            ],
            "window_hours": EAQI_WINDOW_HOURS,
            "min_hours_24h": EAQI_MIN_HOURS_24H,
            "hourly_max_age_hours": EAQI_HOURLY_MAX_AGE_HOURS,
            "indicative_notice": INDICATIVE_NOTICE,
        },
        "metrics": {
            family.value: [
                {
                    "metric": f.column,
                    "title": f.title,
                    "description": f.description,
                    "unit": f.unit.symbol if f.unit else None,
                }
                for f in spec.fields
                if f.is_metric
            ]
            for family, spec in FAMILIES.items()
            if family in (Family.ENV, Family.LIGHT, Family.WIFI, Family.EV)
        },
        "limits": {
            "rule_set": rule_set_in_force(year).value,
            "time_convention": STATISTICS_TIME_CONVENTION,
            "standards": [
                {
                    "pollutant": s.pollutant,
                    "indicator": s.indicator.value,
                    "threshold": s.threshold,
                    "objective": s.objective.value,
                    "allowed_exceedances": s.allowed_exceedances,
                    "citation": s.citation,
                }
                for s in EU_STANDARDS
                if s.rule_set is rule_set_in_force(year)
            ],
        },
        "ev": {
            "free": [s.value for s in FREE_STATUSES],
            "charging": [s.value for s in CHARGING_STATUSES],
        },
        # After a live event the page refetches the pole's state; an answer the response
        # cache computed just before the event can be served for up to two TTLs (fresh,
        # then stale while it is recomputed): wait that long.
        "live": {"refetch_delay_ms": int(2 * settings.api_cache_ttl_s * 1000) + 300},
    }


CONFIG_EXAMPLE = {
    "tiles": None,
    "license": {"id": "DL-DE-BY-2.0", "url": "https://www.govdata.de/dl-de/by-2-0"},
    "time_zone": "Europe/Berlin",
    "aqi": {
        "version": EAQI_VERSION,
        "bands": [{"level": 1, "key": "good", "label": {"en": "Good", "de": "Gut"}}],
        "pollutants": [{"pollutant": "pm10", "averaging": EAQI_24H, "upper_bounds": [15.0]}],
    },
    "metrics": {"env": [{"metric": "pm10", "title": "PM10", "unit": "µg/m³"}]},
}
POLES_EXAMPLE = {
    "items": [
        {
            "pole_id": "CR-0001",
            "district": "Altstadt",
            "latitude": 51.55,
            "longitude": 7.31,
            "capabilities": ["env", "ev"],
            "aqi": {
                "band": 2,
                "pollutants": [
                    {
                        "pollutant": "pm10",
                        "averaging": EAQI_24H,
                        "value": 21.4,
                        "at": "2026-03-01T12:00:00Z",
                        "band": 2,
                        "valid_hours": 24,
                    }
                ],
            },
            "lamp": {"lamp_status": "ok", "power_state": "off", "defective": False},
            "wifi": {"status": "up", "connected_clients": 12},
            "connectors": [{"connector_id": 1, "status": "Available", "group": "free"}],
        }
    ]
}
DISTRICTS_EXAMPLE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "Altstadt"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[7.30, 51.54], [7.32, 51.54], [7.32, 51.56], [7.30, 51.54]]],
            },
        }
    ],
}


def _example(example: dict[str, Any], media: str = "application/json") -> dict[int | str, Any]:
    return {200: {"content": {media: {"example": example}}}, **COMMON_PROBLEMS}


@router.get("/config", responses=_example(CONFIG_EXAMPLE))
def config(request: Request, state: State) -> Response:
    """The map's configuration: tile source (null: none, district outlines instead),
    the European Air Quality Index bands and how they are averaged, each metric's unit,
    and the EU standards in force this year."""
    return respond_page(request, state, map_config(state, datetime.now().astimezone()))


def _aqi(row: dict[str, Any]) -> dict[str, Any]:
    pollutants: list[dict[str, Any]] = []
    bands = []
    for spec in EAQI_POLLUTANTS:
        if spec.averaging == EAQI_24H:
            hours = row.get(f"{spec.pollutant}_24h_hours") or 0
            value = row.get(f"{spec.pollutant}_24h") if hours >= EAQI_MIN_HOURS_24H else None
            at = row.get("e_observed_at")
            extra = {"valid_hours": hours}
        else:
            value = row.get(f"{spec.pollutant}_1h")
            at = row.get(f"{spec.pollutant}_1h_hour")
            extra = {}
        band = eaqi_band(spec.pollutant, None if value is None else float(value))
        bands.append(band)
        pollutants.append(
            {
                "pollutant": spec.pollutant,
                "averaging": spec.averaging,
                "value": None if value is None else round(float(value), 1),
                "at": at,
                "band": band.level if band else None,
                **extra,
            }
        )
    overall = eaqi_overall(bands)
    return {"band": overall.level if overall else None, "pollutants": pollutants}


def _connector_group(status: str, error_code: str | None) -> str:
    if is_charger_fault(status, error_code or "NoError"):
        return "faulted"
    if status in FREE_STATUSES:
        return "free"
    if status in CHARGING_STATUSES:
        return "charging"
    return "unavailable"


def _lamp(row: dict[str, Any]) -> dict[str, Any] | None:
    at = row.get("l_observed_at")
    if at is None:
        return None
    lit = row["l_power_state"] in LIT_POWER_STATES
    day_burner = False
    if lit and row["latitude"] is not None and row["longitude"] is not None:
        elevation = solar_elevation(at, row["latitude"], row["longitude"])
        day_burner = elevation > DAY_BURNER_SUN_ELEVATION_DEG
    return {
        "observed_at": at,
        "lamp_status": row["l_lamp_status"],
        "power_state": row["l_power_state"],
        "defective": is_lamp_fault(row["l_lamp_status"]),
        "day_burner": day_burner,
    }


def map_item(row: dict[str, Any]) -> dict[str, Any]:
    connectors = [
        {**c, "group": _connector_group(c["status"], c.get("error_code"))}
        for c in row["connectors"]
    ]
    return {
        "pole_id": row["pole_id"],
        "name": row["name"],
        "district": row["district"],
        "latitude": row["latitude"],
        "longitude": row["longitude"],
        "capabilities": row["capabilities"],
        "status": row["status"],
        "env_observed_at": row["e_observed_at"],
        "aqi": _aqi(row) if row["e_observed_at"] is not None else None,
        "lamp": _lamp(row),
        "wifi": (
            {
                "observed_at": row["w_observed_at"],
                "status": row["w_status"],
                "connected_clients": row["w_connected_clients"],
            }
            if row["w_observed_at"] is not None
            else None
        ),
        "connectors": connectors,
    }


PoleIdsQuery = Annotated[
    str | None,
    Query(
        max_length=2000,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}(,[A-Za-z0-9][A-Za-z0-9_-]{0,63}){0,99}$",
        description="Only these poles (comma-separated, at most 100): what a live update "
        "of the map refetches",
        examples=["CR-0001,CR-0002"],
    ),
]


@router.get("/poles", responses=_example(POLES_EXAMPLE))
def poles(
    request: Request,
    state: State,
    db: Db,
    district: DistrictQuery = None,
    pole_id: PoleIdsQuery = None,
) -> Response:
    """Every current pole with what the map colours it by: the European Air Quality
    Index band of each pollutant and overall (PM: 24-hour running means; NO2, O3: hourly
    means), lamp defective / day burner, hotspot state and load, and each charger's
    status grouped as free / charging / faulted / unavailable. No paging: one item per
    pole, a few hundred bytes each."""
    with db.connection() as conn:
        rows = map_queries.map_poles(
            conn, district, pole_id.split(",") if pole_id is not None else None
        )
    return respond_page(request, state, {"items": [map_item(r) for r in rows]})


@router.get("/districts.geojson", responses=_example(DISTRICTS_EXAMPLE, "application/geo+json"))
def districts(request: Request, state: State) -> Response:
    """The configured district outlines (SMARTPOLE_DISTRICT_BOUNDARIES) as GeoJSON in
    WGS 84; an empty FeatureCollection when none are configured."""
    features = []
    outlines = state.city_area.districts if state.city_area is not None else None
    if outlines is not None:
        for name, geometry in zip(outlines.names, outlines.geometries, strict=True):
            features.append(
                {"type": "Feature", "properties": {"name": name}, "geometry": mapping(geometry)}
            )
    response = respond_page(request, state, {"type": "FeatureCollection", "features": features})
    response.headers["Content-Type"] = "application/geo+json"
    return response
