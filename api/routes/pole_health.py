"""Pole health: online/offline, stale sensors, lamp and charger faults.

Offline is honest about why: the retained status or the last-will said so,
or the pole has been silent longer than its expected cadence. A stale sensor
(one family quiet while the pole talks) is not an offline pole, and a
defective lamp or a Faulted charger is reported per device."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.cursors import decode_cursor
from api.deps import ApiState, Db, State, page_size
from api.params import CursorQuery, DistrictQuery, LimitQuery
from api.problems import COMMON_PROBLEMS
from api.routes.common import next_link, respond
from api.routes.ev import PoleQuery
from api.schemas import ChargerFault, PoleHealth, PoleHealthList
from models.readings import OcppErrorCode, OcppStatus
from storage.queries import health as health_queries
from storage.queries import latest as latest_queries

router = APIRouter(prefix="/v1", tags=["pole health"])

SENSOR_FAMILIES = ("env", "light", "wifi", "ev")


def judge(facts: dict[str, Any], connectors: list[dict[str, Any]], state: ApiState) -> PoleHealth:
    now: datetime = facts["checked_at"]
    cadence = timedelta(seconds=state.settings.api_expected_cadence_s)
    stale_after = timedelta(seconds=state.settings.api_stale_sensor_s)
    last_seen: datetime | None = facts["last_seen"]
    if facts["status"] == "offline":
        connection, reason = "offline", "the pole reported offline (retained status or last-will)"
    elif last_seen is None:
        connection, reason = "unknown", "never heard from"
    elif now - last_seen > cadence:
        silent = int((now - last_seen).total_seconds())
        connection = "offline"
        reason = f"silent for {silent} s (expected a message every {cadence.seconds} s or less)"
    else:
        connection = "online"
        reason = "status online" if facts["status"] == "online" else "sending data"
    stale = []
    for family in SENSOR_FAMILIES:
        if family not in (facts["capabilities"] or []):
            continue
        observed: datetime | None = facts[f"{family}_observed_at"]
        if observed is None or now - observed > stale_after:
            stale.append(family)
    lamp = facts["lamp_status"]
    faults = [
        ChargerFault(
            connector_id=c["connector_id"],
            status=c["status"],
            error_code=c["error_code"],
            observed_at=c["observed_at"],
        )
        for c in connectors
        if c["status"] == OcppStatus.FAULTED or c["error_code"] != OcppErrorCode.NO_ERROR
    ]
    return PoleHealth(
        pole_id=facts["pole_id"],
        district=facts["district"],
        connection=connection,
        reason=reason,
        last_seen=last_seen,
        stale_sensors=stale,
        lamp_fault=lamp if lamp not in (None, "ok") else None,
        charger_faults=faults,
    )


@router.get("/health/poles", response_model=PoleHealthList, responses=COMMON_PROBLEMS)
def pole_health(
    *,
    request: Request,
    state: State,
    db: Db,
    district: DistrictQuery = None,
    pole_id: PoleQuery = None,
    limit: LimitQuery = None,
    cursor: CursorQuery = None,
) -> Response:
    """Health of each pole: connection (online/offline/unknown, with the reason),
    stale sensors, lamp fault, faulted chargers."""
    after = decode_cursor(cursor, "pole-health", (str,))[0] if cursor else None
    size = page_size(state, limit)
    by_pole: dict[str, list[dict[str, Any]]] = {}
    with db.connection() as conn:
        rows = health_queries.pole_health_facts(conn, district, pole_id, after, size)
        ev_poles = [r["pole_id"] for r in rows if r["ev_observed_at"] is not None]
        if ev_poles:
            for c in latest_queries.latest_connectors(conn, ev_poles):
                by_pole.setdefault(c["pole_id"], []).append(c)
    items = [judge(r, by_pole.get(r["pole_id"], []), state) for r in rows]
    key = [rows[-1]["pole_id"]] if rows else None
    return respond(
        request,
        state,
        PoleHealthList(
            items=items,
            next=next_link(request, rows, size, "pole-health", key),
            license=state.license,
        ),
    )
