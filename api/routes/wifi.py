"""Public Wi-Fi hotspots: state and load now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.cursors import decode_cursor
from api.deps import Db, State, page_size
from api.params import CursorQuery, DistrictQuery, LimitQuery
from api.problems import COMMON_PROBLEMS
from api.routes.common import next_link, respond_page
from api.schemas import HotspotList
from models.vocabulary import WifiStatus
from storage.queries import wifi as wifi_queries

router = APIRouter(prefix="/v1/wifi", tags=["wifi"])


@router.get("/hotspots", response_model=HotspotList, responses=COMMON_PROBLEMS)
def hotspots(
    *,
    request: Request,
    state: State,
    db: Db,
    status: Annotated[WifiStatus | None, Query()] = None,
    district: DistrictQuery = None,
    limit: LimitQuery = None,
    cursor: CursorQuery = None,
) -> Response:
    """Each pole's access point with its newest state and connected clients."""
    after = decode_cursor(cursor, "hotspots", (str,))[0] if cursor else None
    size = page_size(state, limit)
    with db.connection() as conn:
        rows = wifi_queries.list_hotspots(conn, status, district, after, size)
    key = [rows[-1]["pole_id"]] if rows else None
    return respond_page(
        request, state, {"items": rows, "next": next_link(request, rows, size, "hotspots", key)}
    )
