"""Air quality against the EU limits of Directive 2008/50/EC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.cursors import decode_cursor
from api.deps import Db, State, Zones, page_size
from api.params import CursorQuery, DistrictQuery, LimitQuery, TzQuery
from api.problems import COMMON_PROBLEMS
from api.routes.common import next_link, respond
from api.routes.ev import PoleQuery
from api.schemas import ExceedanceList, Exceedances
from storage.queries import air_quality as aq_queries

router = APIRouter(prefix="/v1/air-quality", tags=["air quality"])


@router.get("/exceedances", response_model=ExceedanceList, responses=COMMON_PROBLEMS)
def exceedances(
    *,
    request: Request,
    state: State,
    db: Db,
    zones: Zones,
    year: Annotated[
        int | None, Query(ge=2000, le=2099, description="Calendar year in tz (default: this one)")
    ] = None,
    district: DistrictQuery = None,
    pole_id: PoleQuery = None,
    tz: TzQuery = None,
    limit: LimitQuery = None,
    cursor: CursorQuery = None,
) -> Response:
    """Per pole and year: PM10 days with a daily mean > 50 µg/m³ (35 allowed), NO2
    hours with an hourly mean > 200 µg/m³ (18 allowed), O3 days whose maximum
    8-hour mean > 120 µg/m³ (target: 25, averaged over three years)."""
    zone = zones.resolve(tz)
    chosen_year = year or datetime.now(UTC).year
    after = decode_cursor(cursor, "exceedances", (str,))[0] if cursor else None
    size = min(page_size(state, limit), 1000)
    with db.connection() as conn:
        rows = aq_queries.exceedances(
            conn,
            year=chosen_year,
            tz=zone,
            district=district,
            pole_id=pole_id,
            after=after,
            limit=size,
        )
    key = [rows[-1]["pole_id"]] if rows else None
    return respond(
        request,
        state,
        ExceedanceList(
            tz=zone,
            items=[Exceedances.model_validate({**r, "year": chosen_year}) for r in rows],
            next=next_link(request, rows, size, "exceedances", key),
            license=state.license,
        ),
    )
