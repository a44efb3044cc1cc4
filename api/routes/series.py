"""Time series of one pole's metric: raw or bucketed, paged, or streamed as CSV."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response, StreamingResponse

from api.cursors import decode_cursor
from api.deps import ApiState, Db, State, Zones, page_size, stream_holding_a_slot
from api.params import (
    CursorQuery,
    FromQuery,
    LimitQuery,
    MetricFamily,
    PoleIdPath,
    TimeRange,
    ToQuery,
    TzQuery,
    as_family,
    time_range,
)
from api.problems import COMMON_PROBLEMS, bad_parameter, not_found, problem_response_doc
from api.responses import license_link
from api.routes.common import next_link, respond_page
from api.schemas import Series
from models.topics import MAX_CONNECTOR_ID, Family
from storage.queries import poles as pole_queries
from storage.queries import series as series_queries
from storage.queries.catalog import SERIES_METRICS, Aggregate, Interval, Metric, find_metric

router = APIRouter(prefix="/v1", tags=["series"])

DEFAULT_SPAN: dict[str, timedelta] = {
    "raw": timedelta(days=1),
    "5min": timedelta(days=1),
    "hour": timedelta(days=7),
    "day": timedelta(days=31),
    "month": timedelta(days=366),
}

SeriesFamily = Annotated[
    MetricFamily,
    Path(description="Metric family (status has no numeric series)", examples=["env"]),
]
MetricPath = Annotated[
    str,
    Path(
        pattern=r"^[a-z0-9_]{1,40}$",
        description="Metric: "
        + "; ".join(
            f"{family.value}: {', '.join(metrics)}" for family, metrics in SERIES_METRICS.items()
        ),
        examples=["pm10"],
    ),
]
IntervalQuery = Annotated[
    Interval,
    Query(
        description="raw readings, or buckets: 5min, hour (UTC hours), day and month "
        "(local to tz, DST-correct)"
    ),
]
AggQuery = Annotated[Aggregate, Query(description="Aggregate per bucket (ignored for raw)")]
ConnectorQuery = Annotated[
    int | None,
    Query(ge=1, le=MAX_CONNECTOR_ID, description="EV connector id (required for family ev)"),
]


def _metric(family: Family, name: str) -> Metric:
    metric = find_metric(family, name)
    if metric is None:
        known = ", ".join(SERIES_METRICS.get(family, {})) or "none"
        raise not_found(f"family {family.value!r} has no metric {name!r} (known: {known})")
    return metric


def _request(
    *,
    state: ApiState,
    zones: Zones,
    pole_id: str,
    family: Family,
    metric_name: str,
    interval: Interval,
    agg: Aggregate,
    tz: str | None,
    start: datetime | None,
    end: datetime | None,
    connector: int | None,
    for_export: bool,
) -> tuple[series_queries.SeriesRequest, TimeRange]:
    metric = _metric(family, metric_name)
    zone = zones.resolve(tz)
    if family is Family.EV and connector is None:
        raise bad_parameter("connector", "an ev series needs the connector id (1-99)")
    if family is not Family.EV and connector is not None:
        raise bad_parameter("connector", f"only ev series have connectors, not {family.value}")
    span = time_range(start, end, zone, DEFAULT_SPAN[interval])
    max_raw = timedelta(days=state.settings.api_max_raw_range_days)
    if interval == "raw" and not for_export and span.end - span.start > max_raw:
        raise bad_parameter(
            "from",
            f"a raw series may span at most {max_raw.days} days, this one spans "
            f"{(span.end - span.start).days} days",
            hint="aggregate (interval=5min|hour|day|month), request shorter ranges, "
            "or stream everything with the export.csv endpoint",
        )
    req = series_queries.SeriesRequest(
        pole_id=pole_id,
        metric=metric,
        interval=interval,
        agg=agg,
        tz=zone,
        start=span.start,
        end=span.end,
        connector_id=connector,
    )
    return req, span


def _require_pole(conn: psycopg.Connection[Any], pole_id: str) -> None:
    if not pole_queries.pole_exists(conn, pole_id):
        raise not_found(f"no pole {pole_id!r}")


@router.get(
    "/poles/{pole_id}/series/{family}/{metric}",
    response_model=Series,
    responses={404: problem_response_doc("No such pole or metric"), **COMMON_PROBLEMS},
)
def series(
    *,
    request: Request,
    state: State,
    db: Db,
    zones: Zones,
    pole_id: PoleIdPath,
    family: SeriesFamily,
    metric: MetricPath,
    start: FromQuery = None,
    end: ToQuery = None,
    interval: IntervalQuery = "hour",
    agg: AggQuery = "avg",
    tz: TzQuery = None,
    connector: ConnectorQuery = None,
    limit: LimitQuery = None,
    cursor: CursorQuery = None,
) -> Response:
    """A pole's metric over time. Env hour/day/month come from the hourly rollup,
    which late-arriving data updates in place; days are local days of `tz`
    (23 or 25 hours on DST change days). `from`/`to` are widened to whole buckets."""
    req, span = _request(
        state=state,
        zones=zones,
        pole_id=pole_id,
        family=as_family(family),
        metric_name=metric,
        interval=interval,
        agg=agg,
        tz=tz,
        start=start,
        end=end,
        connector=connector,
        for_export=False,
    )
    after = decode_cursor(cursor, "series", (datetime,))[0] if cursor else None
    size = page_size(state, limit)
    with db.connection() as conn:
        rows = series_queries.fetch_series(conn, replace(req, after=after, limit=size))
        if not rows:
            # The writer registers a pole with its first reading, so only an empty
            # page needs the registry to tell "no such pole" from "no data".
            _require_pole(conn, pole_id)
    zone = ZoneInfo(req.tz)
    key: list[object] | None = [rows[-1][0]] if rows else None
    return respond_page(
        request,
        state,
        {
            "pole_id": pole_id,
            "family": family.value,
            "metric": req.metric.name,
            "unit": req.metric.unit,
            "connector_id": connector,
            "interval": interval,
            "agg": None if interval == "raw" else agg,
            "tz": req.tz,
            "start": span.start.astimezone(zone),
            "end": span.end.astimezone(zone),
            "points": [{"time": t.astimezone(zone), "value": v} for t, v in rows],
            "next": next_link(request, rows, size, "series", key),
        },
    )


@router.get(
    "/poles/{pole_id}/series/{family}/{metric}/export.csv",
    responses={
        200: {
            "description": "CSV with header `time,value`, streamed (no row cap); times in tz",
            "content": {"text/csv": {"example": "time,value\n2026-03-29 00:00:00+01,21.5\n"}},
        },
        404: problem_response_doc("No such pole or metric"),
        **COMMON_PROBLEMS,
    },
)
def export_series(
    *,
    state: State,
    db: Db,
    zones: Zones,
    pole_id: PoleIdPath,
    family: SeriesFamily,
    metric: MetricPath,
    start: FromQuery = None,
    end: ToQuery = None,
    interval: IntervalQuery = "raw",
    agg: AggQuery = "avg",
    tz: TzQuery = None,
    connector: ConnectorQuery = None,
) -> StreamingResponse:
    """The whole series as CSV, streamed by the database (flat memory for any size)."""
    req, _ = _request(
        state=state,
        zones=zones,
        pole_id=pole_id,
        family=as_family(family),
        metric_name=metric,
        interval=interval,
        agg=agg,
        tz=tz,
        start=start,
        end=end,
        connector=connector,
        for_export=True,
    )
    pool = state.pool
    assert pool is not None

    with db.connection() as conn:  # fail before the 200 goes out
        _require_pole(conn, pole_id)

    def rows() -> Iterator[bytes]:  # runs while the response is sent
        with pool.connection() as conn:
            yield from series_queries.export_series_csv(conn, req)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    filename = f"{pole_id}_{family.value}_{req.metric.name}_{interval}_{stamp}.csv"
    return StreamingResponse(
        stream_holding_a_slot(state, rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Link": license_link(state.license),
        },
    )
