"""City-wide and per-district aggregates of a metric over local-time buckets."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from api.cursors import decode_cursor
from api.deps import Db, State, Zones, page_size
from api.params import (
    CursorQuery,
    DistrictQuery,
    FromQuery,
    LimitQuery,
    MetricFamily,
    ToQuery,
    TzQuery,
    as_family,
    time_range,
)
from api.problems import COMMON_PROBLEMS, not_found, problem_response_doc
from api.routes.common import next_link, respond
from api.schemas import AggregatePoint, AggregateSeries
from storage.queries import aggregates as aggregate_queries
from storage.queries.aggregates import NO_DISTRICT
from storage.queries.catalog import SERIES_METRICS, Aggregate, find_metric

router = APIRouter(prefix="/v1", tags=["aggregates"])

DEFAULT_SPAN = {"hour": timedelta(days=1), "day": timedelta(days=30), "month": timedelta(days=366)}


@router.get(
    "/aggregates/{family}/{metric}",
    response_model=AggregateSeries,
    responses={404: problem_response_doc("No such metric"), **COMMON_PROBLEMS},
)
def aggregates(
    *,
    request: Request,
    state: State,
    db: Db,
    zones: Zones,
    family: Annotated[MetricFamily, Path(examples=["env"])],
    metric: Annotated[str, Path(pattern=r"^[a-z0-9_]{1,40}$", examples=["pm10"])],
    group: Annotated[
        Literal["city", "district"], Query(description="One value for the city or per district")
    ] = "district",
    interval: Annotated[Literal["hour", "day", "month"], Query()] = "day",
    agg: Annotated[Aggregate, Query()] = "avg",
    district: DistrictQuery = None,
    start: FromQuery = None,
    end: ToQuery = None,
    tz: TzQuery = None,
    limit: LimitQuery = None,
    cursor: CursorQuery = None,
) -> Response:
    """A metric over all poles of the city, or per district, in buckets local to `tz`.
    Averages weigh every reading equally (sum over count)."""
    found = find_metric(as_family(family), metric)
    if found is None:
        known = ", ".join(SERIES_METRICS.get(family, {})) or "none"
        raise not_found(f"family {family.value!r} has no metric {metric!r} (known: {known})")
    zone = zones.resolve(tz)
    span = time_range(start, end, zone, DEFAULT_SPAN[interval])
    after = None
    if cursor:
        after_time, after_key = decode_cursor(cursor, "aggregates", (datetime, str))
        after = (after_time, after_key)
    size = page_size(state, limit)
    query = aggregate_queries.AggregateRequest(
        metric=found,
        group=group,
        interval=interval,
        agg=agg,
        tz=zone,
        start=span.start,
        end=span.end,
        district=district,
        after=after,
        limit=size,
    )
    with db.connection() as conn:
        rows = aggregate_queries.fetch_aggregates(conn, query)
    local_zone = ZoneInfo(zone)
    points = [
        AggregatePoint(
            time=t.astimezone(local_zone), group=None if k == NO_DISTRICT else k, value=v
        )
        for t, k, v in rows
    ]
    key: list[object] | None = [rows[-1][0], rows[-1][1]] if rows else None
    return respond(
        request,
        state,
        AggregateSeries(
            family=family.value,
            metric=metric,
            unit=found.unit,
            group=group,
            interval=interval,
            agg=agg,
            tz=zone,
            points=points,
            next=next_link(request, rows, size, "aggregates", key),
            license=state.license,
        ),
    )
