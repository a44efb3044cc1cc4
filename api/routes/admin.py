"""Admin: maintain the pole registry. Needs the API key; public reads never do."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Body, Depends
from starlette.responses import Response

from api.deps import AdminKeyName, Db, State, require_admin
from api.params import PoleIdPath
from api.problems import COMMON_PROBLEMS, not_found, problem_response_doc
from api.schemas import PoleDetail, PoleRegistryFields
from models.api import PolePublic
from storage import registry

log = logging.getLogger(__name__)


def actor(key_name: str) -> str:
    """Who changed the registry, as the registry history records it."""
    return f"admin-key:{key_name}"


router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses={
        401: problem_response_doc("No X-API-Key header"),
        403: problem_response_doc("Wrong key, or the admin API is disabled"),
        **COMMON_PROBLEMS,
    },
)

EXAMPLE = {
    "name": "Schlossplatz 1",
    "district": "Mitte",
    "latitude": 52.5163,
    "longitude": 13.3777,
    "capabilities": ["env", "light", "ev"],
    "notes": "Charger installed 2026-05",
}


def _detail(state: State, row: dict[str, object], status: int) -> Response:
    body = PoleDetail(pole=PolePublic.model_validate(row), license=state.license)
    return Response(
        body.model_dump_json(),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


@router.put(
    "/poles/{pole_id}",
    response_model=PoleDetail,
    responses={201: {"model": PoleDetail, "description": "Created"}},
)
def put_pole(
    *,
    state: State,
    db: Db,
    key_name: AdminKeyName,
    pole_id: PoleIdPath,
    fields: Annotated[PoleRegistryFields, Body(examples=[EXAMPLE])],
) -> Response:
    """Create a pole or replace its registry fields (fields left out become empty)."""
    with db.connection() as conn:
        row, created = registry.put_pole(conn, pole_id, fields.model_dump())
    log.info("pole %s %s by %s", pole_id, "created" if created else "replaced", actor(key_name))
    return _detail(state, row, 201 if created else 200)


@router.patch(
    "/poles/{pole_id}",
    response_model=PoleDetail,
    responses={404: problem_response_doc("No such pole")},
)
def patch_pole(
    *,
    state: State,
    db: Db,
    key_name: AdminKeyName,
    pole_id: PoleIdPath,
    fields: Annotated[PoleRegistryFields, Body(examples=[{"notes": "Lamp replaced"}])],
) -> Response:
    """Change only the registry fields sent."""
    with db.connection() as conn:
        row = registry.patch_pole(conn, pole_id, fields.model_dump(exclude_unset=True))
    if row is None:
        raise not_found(f"no pole {pole_id!r}")
    log.info("pole %s changed by %s", pole_id, actor(key_name))
    return _detail(state, row, 200)
