"""Air quality against the EU standards of the domain catalogue."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.cursors import decode_cursor
from api.deps import Db, State, Zones, page_size
from api.params import CursorQuery, DistrictQuery, LimitQuery, PoleQuery, TzQuery
from api.problems import COMMON_PROBLEMS
from api.routes.common import next_link, respond
from api.schemas import ExceedanceList, Exceedances
from models.catalogue.air_quality import MIN_HOURS_FOR_8H_MEAN, MIN_HOURS_FOR_DAILY_MEAN
from storage.queries import air_quality as aq_queries
from storage.queries.air_quality import ExceedanceRules

router = APIRouter(prefix="/v1/air-quality", tags=["air quality"])


_NOW = ExceedanceRules.for_year(datetime.now(UTC).year)
DESCRIPTION = (
    "Per pole and year, against the EU standards in force for that year "
    f"(this year: {_NOW.pm10_daily.rule_set}): PM10 days with a daily mean over "
    f"{_NOW.pm10_daily.threshold:g} µg/m³ ({_NOW.pm10_daily.allowed_exceedances} allowed; a day "
    f"needs {MIN_HOURS_FOR_DAILY_MEAN} hourly means), NO2 hours with an hourly mean over "
    f"{_NOW.no2_hourly.threshold:g} µg/m³ ({_NOW.no2_hourly.allowed_exceedances} allowed), O3 "
    f"days whose maximum 8-hour mean exceeds {_NOW.o3_8h.threshold:g} µg/m³ (target: "
    f"{_NOW.o3_8h.allowed_exceedances}, averaged over {_NOW.o3_8h.averaged_over_years} years; "
    f"an 8-hour mean needs {MIN_HOURS_FOR_8H_MEAN} hourly means)."
)


@router.get(
    "/exceedances",
    response_model=ExceedanceList,
    responses=COMMON_PROBLEMS,
    description=DESCRIPTION,
)
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
    rules = ExceedanceRules.for_year(chosen_year)
    key = [rows[-1]["pole_id"]] if rows else None
    return respond(
        request,
        state,
        ExceedanceList(
            tz=zone,
            items=[_exceedances(r, chosen_year, rules) for r in rows],
            next=next_link(request, rows, size, "exceedances", key),
            license=state.license,
        ),
    )


def _exceedances(row: dict[str, Any], year: int, rules: ExceedanceRules) -> Exceedances:
    return Exceedances(
        **row,
        year=year,
        rule_set=rules.pm10_daily.rule_set.value,
        pm10_daily_limit=rules.pm10_daily.threshold,
        pm10_days_allowed=rules.pm10_daily.allowed_exceedances or 0,
        no2_hourly_limit=rules.no2_hourly.threshold,
        no2_hours_allowed=rules.no2_hourly.allowed_exceedances or 0,
        o3_8h_target=rules.o3_8h.threshold,
        o3_days_allowed=rules.o3_8h.allowed_exceedances or 0,
    )
