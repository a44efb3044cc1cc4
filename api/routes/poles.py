"""Poles: list (filters, keyset pages), detail, and GeoJSON for maps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response, StreamingResponse

from api.cursors import decode_cursor
from api.deps import Db, State, page_size, stream_holding_a_slot
from api.params import (
    SAFE_TEXT,
    CursorQuery,
    DistrictQuery,
    LimitQuery,
    PoleIdPath,
    parse_bbox,
)
from api.problems import COMMON_PROBLEMS, not_found, problem_response_doc
from api.responses import license_link
from api.routes.common import next_link, respond
from api.schemas import PoleDetail, PoleList
from models.api import PolePublic
from models.vocabulary import Capability
from storage.queries import poles as pole_queries
from storage.queries.poles import BoundingBox, PoleFilter

router = APIRouter(prefix="/v1", tags=["poles"])

BboxQuery = Annotated[
    str | None,
    Query(
        max_length=200,
        description="minLon,minLat,maxLon,maxLat (WGS 84)",
        examples=["13.30,52.48,13.45,52.55"],
    ),
]
CapabilityQuery = Annotated[
    Capability | None, Query(description="Only poles with this family installed", examples=["ev"])
]


AssetIdQuery = Annotated[
    str | None,
    Query(
        description="Only the pole with this asset number of the city's register",
        pattern=SAFE_TEXT,
        examples=["Mast 12/345"],
    ),
]


def _filters(
    district: str | None, bbox: str | None, capability: str | None, asset_id: str | None = None
) -> PoleFilter:
    box = BoundingBox(*parse_bbox(bbox)) if bbox is not None else None
    return PoleFilter(district=district, bbox=box, capability=capability, asset_id=asset_id)


@router.get("/poles", response_model=PoleList, responses=COMMON_PROBLEMS)
def list_poles(
    *,
    request: Request,
    state: State,
    db: Db,
    district: DistrictQuery = None,
    bbox: BboxQuery = None,
    capability: CapabilityQuery = None,
    asset_id: AssetIdQuery = None,
    limit: LimitQuery = None,
    cursor: CursorQuery = None,
) -> Response:
    """Current poles (retired ones are left out), ordered by id, filtered by district,
    bounding box, capability and the city's asset number."""
    filters = _filters(district, bbox, capability, asset_id)
    after = decode_cursor(cursor, "poles", (str,))[0] if cursor else None
    size = page_size(state, limit)
    with db.connection() as conn:
        rows = pole_queries.list_poles(conn, filters, after, size)
    key = [rows[-1]["pole_id"]] if rows else None
    return respond(
        request,
        state,
        PoleList(
            items=[PolePublic.model_validate(r) for r in rows],
            next=next_link(request, rows, size, "poles", key),
            license=state.license,
        ),
    )


@router.get(
    "/poles.geojson",
    responses={
        200: {
            "description": "A GeoJSON FeatureCollection (streamed; poles without a location "
            "have a null geometry)",
            "content": {
                "application/geo+json": {
                    "example": {
                        "type": "FeatureCollection",
                        "features": [
                            {
                                "type": "Feature",
                                "id": "CR-0001",
                                "geometry": {"type": "Point", "coordinates": [13.3777, 52.5163]},
                                "properties": {"pole_id": "CR-0001", "district": "Mitte"},
                            }
                        ],
                    }
                }
            },
        },
        **COMMON_PROBLEMS,
    },
)
def poles_geojson(
    *,
    state: State,
    district: DistrictQuery = None,
    bbox: BboxQuery = None,
    capability: CapabilityQuery = None,
    asset_id: AssetIdQuery = None,
) -> StreamingResponse:
    """Every matching current pole as one GeoJSON FeatureCollection, streamed (no page cap)."""
    filters = _filters(district, bbox, capability, asset_id)
    assert state.pool is not None
    pool = state.pool
    lic = state.license

    def features() -> Iterator[bytes]:  # runs while the response is sent
        yield b'{"type":"FeatureCollection","license":' + lic.model_dump_json().encode()
        yield b',"features":['
        first = True
        with pool.connection() as conn:
            for batch in pole_queries.stream_poles(conn, filters):
                parts = []
                for row in batch:
                    parts.append(_feature(row))
                chunk = b",".join(parts)
                yield chunk if first else b"," + chunk
                first = False
        yield b"]}"

    return StreamingResponse(
        stream_holding_a_slot(state, features),
        media_type="application/geo+json",
        headers={
            "Link": license_link(lic),
            "Cache-Control": f"public, max-age={state.settings.api_cache_max_age_s}",
        },
    )


def _feature(row: dict[str, Any]) -> bytes:
    pole = PolePublic.model_validate(row)
    geometry = (
        {"type": "Point", "coordinates": [pole.longitude, pole.latitude]}
        if pole.longitude is not None and pole.latitude is not None
        else None
    )
    return orjson.dumps(
        {
            "type": "Feature",
            "id": pole.pole_id,
            "geometry": geometry,
            "properties": pole.model_dump(mode="json", exclude={"latitude", "longitude"}),
        }
    )


@router.get(
    "/poles/{pole_id}",
    response_model=PoleDetail,
    responses={404: problem_response_doc("No such pole"), **COMMON_PROBLEMS},
)
def pole_detail(request: Request, state: State, db: Db, pole_id: PoleIdPath) -> Response:
    """One pole's registry entry and what was last observed."""
    with db.connection() as conn:
        row = pole_queries.get_pole(conn, pole_id)
    if row is None:
        raise not_found(f"no pole {pole_id!r}")
    return respond(
        request, state, PoleDetail(pole=PolePublic.model_validate(row), license=state.license)
    )
