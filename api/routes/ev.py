"""EV charging: connectors and their OCPP status, sessions, energy delivered."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.cursors import decode_cursor
from api.deps import Db, State, Zones, page_size
from api.params import (
    CursorQuery,
    DistrictQuery,
    FromQuery,
    LimitQuery,
    PoleQuery,
    ToQuery,
    TzQuery,
    time_range,
)
from api.problems import COMMON_PROBLEMS, bad_parameter
from api.routes.common import next_link, respond, respond_page
from api.schemas import (
    ChargingSession,
    ConnectorList,
    EnergyList,
    EnergyPoint,
    SessionList,
)
from models.vocabulary import OcppStatus
from storage.queries import ev as ev_queries
from storage.queries.aggregates import NO_DISTRICT

router = APIRouter(prefix="/v1/ev", tags=["ev charging"])


@router.get("/connectors", response_model=ConnectorList, responses=COMMON_PROBLEMS)
def connectors(
    *,
    request: Request,
    state: State,
    db: Db,
    status: Annotated[
        OcppStatus | None,
        Query(
            description="Only connectors in this OCPP status now (Available: where can I "
            "charge now)"
        ),
    ] = None,
    lat: Annotated[
        float | None,
        Query(
            ge=-90,
            le=90,
            allow_inf_nan=False,
            description="Order by distance from here (with lon)",
            examples=[52.52],
        ),
    ] = None,
    lon: Annotated[
        float | None,
        Query(
            ge=-180,
            le=180,
            allow_inf_nan=False,
            description="Order by distance from here (with lat)",
            examples=[13.40],
        ),
    ] = None,
    max_distance_m: Annotated[float | None, Query(gt=0, le=50_000_000, allow_inf_nan=False)] = None,
    district: DistrictQuery = None,
    pole_id: PoleQuery = None,
    limit: LimitQuery = None,
    cursor: CursorQuery = None,
) -> Response:
    """Every charging connector with its current OCPP status (newest device time).
    `status=Available&lat=..&lon=..&limit=1` is the nearest free connector."""
    if (lat is None) != (lon is None):
        raise bad_parameter("lat" if lat is None else "lon", "lat and lon go together")
    if max_distance_m is not None and lat is None:
        raise bad_parameter("max_distance_m", "needs lat and lon")
    near = (lat, lon) if lat is not None and lon is not None else None
    after = None
    if cursor:
        d, p, c = decode_cursor(cursor, "connectors", (float, str, int))
        after = (d, p, c)
    size = page_size(state, limit)
    filters = ev_queries.ConnectorFilter(
        status=status.value if status else None,
        district=district,
        pole_id=pole_id,
        near=near,
        max_distance_m=max_distance_m,
    )
    with db.connection() as conn:
        rows = ev_queries.find_connectors(conn, filters, after, size)
    key: list[object] | None = (
        [rows[-1]["distance_m"], rows[-1]["pole_id"], rows[-1]["connector_id"]] if rows else None
    )
    if not near:
        for r in rows:
            r["distance_m"] = None
    return respond_page(
        request, state, {"items": rows, "next": next_link(request, rows, size, "connectors", key)}
    )


@router.get("/sessions", response_model=SessionList, responses=COMMON_PROBLEMS)
def sessions(
    *,
    request: Request,
    state: State,
    db: Db,
    zones: Zones,
    pole_id: PoleQuery = None,
    start: FromQuery = None,
    end: ToQuery = None,
    tz: TzQuery = None,
    limit: LimitQuery = None,
    cursor: CursorQuery = None,
) -> Response:
    """Charging sessions (readings sharing an OCPP transaction id) with readings in
    the range, ordered by start; energy is the connector meter's increase."""
    zone = zones.resolve(tz)
    span = time_range(start, end, zone, timedelta(days=7))
    after = None
    if cursor:
        t, p, c, x = decode_cursor(cursor, "sessions", (datetime, str, int, str))
        after = (t, p, c, x)
    size = page_size(state, limit)
    with db.connection() as conn:
        rows = ev_queries.list_sessions(
            conn, start=span.start, end=span.end, pole_id=pole_id, after=after, limit=size
        )
    local_zone = ZoneInfo(zone)
    items = [
        ChargingSession.model_validate(
            {
                **r,
                "started_at": r["started_at"].astimezone(local_zone),
                "last_reading_at": r["last_reading_at"].astimezone(local_zone),
            }
        )
        for r in rows
    ]
    last = rows[-1] if rows else None
    key: list[object] | None = (
        [last["started_at"], last["pole_id"], last["connector_id"], last["transaction_id"]]
        if last
        else None
    )
    return respond(
        request,
        state,
        SessionList(
            items=items,
            next=next_link(request, rows, size, "sessions", key),
            license=state.license,
        ),
    )


@router.get("/energy", response_model=EnergyList, responses=COMMON_PROBLEMS)
def energy(
    *,
    request: Request,
    state: State,
    db: Db,
    zones: Zones,
    interval: Annotated[Literal["hour", "day", "month"], Query()] = "day",
    group: Annotated[Literal["city", "district", "pole"], Query()] = "city",
    start: FromQuery = None,
    end: ToQuery = None,
    tz: TzQuery = None,
    limit: LimitQuery = None,
    cursor: CursorQuery = None,
) -> Response:
    """kWh delivered per bucket (local to `tz`) for the city, each district or each pole."""
    zone = zones.resolve(tz)
    span = time_range(start, end, zone, timedelta(days=30))
    after = None
    if cursor:
        t, k = decode_cursor(cursor, "energy", (datetime, str))
        after = (t, k)
    size = page_size(state, limit)
    with db.connection() as conn:
        rows = ev_queries.energy_delivered(
            conn,
            interval=interval,
            group=group,
            tz=zone,
            start=span.start,
            end=span.end,
            after=after,
            limit=size,
        )
    local_zone = ZoneInfo(zone)
    items = [
        EnergyPoint(
            time=t.astimezone(local_zone),
            group=None if k == NO_DISTRICT else k,
            energy_kwh=round(v, 6),
        )
        for t, k, v in rows
    ]
    key: list[object] | None = [rows[-1][0], rows[-1][1]] if rows else None
    return respond(
        request,
        state,
        EnergyList(
            interval=interval,
            tz=zone,
            items=items,
            next=next_link(request, rows, size, "energy", key),
            license=state.license,
        ),
    )
