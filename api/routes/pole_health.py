"""Pole health: online/offline, stale sensors, lamp, hotspot and charger faults.

The judgement is the database's `pole_health` view, built from the domain
catalogue's health rules with the thresholds `smartpole db migrate` wrote
(storage/health_view.py); the Grafana panels and alerts read the same view.
This route only words the reason: offline because the retained status or the
last-will said so, or because the pole has been silent too long. A stale
sensor (one family quiet while the pole talks) is not an offline pole, and a
defective lamp or a Faulted charger is reported per device."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.cursors import decode_cursor
from api.deps import Db, State, page_size
from api.params import CursorQuery, DistrictQuery, LimitQuery, PoleQuery
from api.problems import COMMON_PROBLEMS
from api.routes.common import next_link, respond_page
from api.schemas import PoleHealthList
from models.vocabulary import PoleConnection
from storage.queries import health as health_queries

router = APIRouter(prefix="/v1", tags=["pole health"])


def _reason(facts: dict[str, Any]) -> str:
    connection = facts["connection"]
    if connection == "unknown":
        return "never heard from"
    if connection == PoleConnection.OFFLINE:
        if facts["status"] == PoleConnection.OFFLINE:
            return "the pole reported offline (retained status or last-will)"
        return (
            f"silent for {int(facts['silent_s'])} s (offline after "
            f"{facts['offline_after_s']} s without a message)"
        )
    return "status online" if facts["status"] == PoleConnection.ONLINE else "sending data"


def to_pole_health(facts: dict[str, Any]) -> dict[str, Any]:
    """A PoleHealth as a dict (the page is validated as a whole)."""
    return {
        "pole_id": facts["pole_id"],
        "district": facts["district"],
        "connection": facts["connection"],
        "reason": _reason(facts),
        "last_seen": facts["last_seen"],
        "stale_sensors": facts["stale_sensors"],
        "lamp_fault": facts["lamp_status"] if facts["lamp_fault"] else None,
        "hotspot_fault": facts["hotspot_fault"],
        "charger_faults": [
            {**c, "observed_at": datetime.fromisoformat(c["observed_at"])}
            for c in facts["charger_faults"]
        ],
    }


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
    stale sensors, lamp fault, hotspot down, faulted chargers. The same judgement
    as the City overview dashboard and the fleet alerts."""
    after = decode_cursor(cursor, "pole-health", (str,))[0] if cursor else None
    size = page_size(state, limit)
    with db.connection() as conn:
        rows = health_queries.pole_health_facts(conn, district, pole_id, after, size)
    key = [rows[-1]["pole_id"]] if rows else None
    return respond_page(
        request,
        state,
        {
            "items": [to_pole_health(r) for r in rows],
            "next": next_link(request, rows, size, "pole-health", key),
        },
    )
