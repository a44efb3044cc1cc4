"""Latest readings, by device timestamp: of one pole, and of the whole city."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.cursors import decode_cursor
from api.deps import Db, State, page_size
from api.params import (
    CursorQuery,
    DistrictQuery,
    LimitQuery,
    PoleIdPath,
    SingleReadingFamily,
    as_family,
)
from api.problems import COMMON_PROBLEMS, not_found, problem_response_doc
from api.reading_schemas import ConnectorValues, EnvValues, LightValues, WifiValues
from api.routes.common import next_link, respond, respond_page
from api.schemas import CityLatest, PoleLatest
from models.topics import Family
from storage.queries import latest as latest_queries
from storage.queries import poles as pole_queries

router = APIRouter(prefix="/v1", tags=["latest"])


@router.get(
    "/poles/{pole_id}/latest",
    response_model=PoleLatest,
    responses={404: problem_response_doc("No such pole"), **COMMON_PROBLEMS},
)
def pole_latest(request: Request, state: State, db: Db, pole_id: PoleIdPath) -> Response:
    """The newest reading of every family of one pole (newest *device* time, so a
    late-arriving backlog never replaces a newer value)."""
    with db.connection() as conn:
        pole = pole_queries.get_pole(conn, pole_id)
        if pole is None:
            raise not_found(f"no pole {pole_id!r}")
        env = latest_queries.latest_of_pole(conn, pole_id, Family.ENV)
        light = latest_queries.latest_of_pole(conn, pole_id, Family.LIGHT)
        wifi = latest_queries.latest_of_pole(conn, pole_id, Family.WIFI)
        connectors = latest_queries.latest_connectors(conn, [pole_id])
    return respond(
        request,
        state,
        PoleLatest(
            pole_id=pole_id,
            status=pole["status"],
            status_since=pole["status_since"],
            env=EnvValues.model_validate(env) if env else None,
            light=LightValues.model_validate(light) if light else None,
            wifi=WifiValues.model_validate(wifi) if wifi else None,
            ev=[ConnectorValues.model_validate(c) for c in connectors],
            license=state.license,
        ),
    )


@router.get("/latest", response_model=CityLatest, responses=COMMON_PROBLEMS)
def city_latest(
    *,
    request: Request,
    state: State,
    db: Db,
    family: Annotated[
        SingleReadingFamily,
        Query(description="Which family (EV connectors: /v1/ev/connectors)"),
    ] = SingleReadingFamily.ENV,
    district: DistrictQuery = None,
    limit: LimitQuery = None,
    cursor: CursorQuery = None,
) -> Response:
    """The newest reading of one family for every pole of the city (or a district),
    one page ordered by pole id. Poles that never sent this family are left out."""
    after = decode_cursor(cursor, f"latest-{family.value}", (str,))[0] if cursor else None
    size = page_size(state, limit)
    with db.connection() as conn:
        rows = latest_queries.latest_of_city(conn, as_family(family), district, after, size)
    key = [rows[-1]["pole_id"]] if rows else None
    return respond_page(
        request,
        state,
        {
            "family": family.value,
            "items": [
                {"pole_id": r["pole_id"], "district": r["district"], "reading": _reading(r)}
                for r in rows
            ],
            "next": next_link(request, rows, size, f"latest-{family.value}", key),
        },
    )


def _reading(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("pole_id", "district")}
