"""Admin: maintain the pole registry - one pole (PUT/PATCH), a whole inventory
file (POST poles:import), and each pole's registry history. Needs the API
key; public reads never do. Every change is recorded with the key that made it."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import IO, Annotated, Literal

import orjson
from fastapi import APIRouter, Body, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.cursors import decode_cursor
from api.deps import (
    AdminKeyName,
    ApiState,
    Db,
    State,
    connection_slot,
    page_size,
    require_admin,
)
from api.params import CursorQuery, LimitQuery, PoleIdPath
from api.problems import (
    COMMON_PROBLEMS,
    ProblemError,
    bad_parameter,
    not_found,
    problem_response_doc,
)
from api.routes.common import next_link
from api.schemas import (
    ImportReportBody,
    PoleDetail,
    PoleHistory,
    PoleRegistryFields,
    RegistryChange,
)
from inventory.entries import MappingError, parse_mapping
from inventory.geo import CityArea, InventoryConfigError
from inventory.importer import ImportOptions, check_options, import_inventory
from inventory.report import ImportReport
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
        row, created = registry.put_pole(conn, pole_id, fields.model_dump(), actor=actor(key_name))
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
        row = registry.patch_pole(
            conn, pole_id, fields.model_dump(exclude_unset=True), actor=actor(key_name)
        )
    if row is None:
        raise not_found(f"no pole {pole_id!r}")
    log.info("pole %s changed by %s", pole_id, actor(key_name))
    return _detail(state, row, 200)


@router.get(
    "/poles/{pole_id}/history",
    response_model=PoleHistory,
    responses={404: problem_response_doc("No such pole and no history of one")},
)
def pole_history(
    *,
    request: Request,
    state: State,
    db: Db,
    pole_id: PoleIdPath,
    limit: LimitQuery = None,
    cursor: CursorQuery = None,
) -> Response:
    """Every change of the pole's registry entry, oldest first: who (the admin key,
    the CLI user, smartpole up), through what (admin API, import file with its
    SHA-256, decommission), when, and each field's old and new value."""
    after = decode_cursor(cursor, "history", (int,))[0] if cursor else None
    size = page_size(state, limit)
    with db.connection() as conn:
        rows = registry.pole_history(conn, pole_id, after, size)
        if not rows and after is None and not registry.has_history_or_pole(conn, pole_id):
            raise not_found(f"no pole {pole_id!r}")
    key = [rows[-1]["id"]] if rows else None
    body = PoleHistory(
        pole_id=pole_id,
        items=[RegistryChange.model_validate(r) for r in rows],
        next=next_link(request, rows, size, "history", key),
    )
    return Response(
        body.model_dump_json(), media_type="application/json", headers={"Cache-Control": "no-store"}
    )


IMPORT_MEDIA_TYPES = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/geo+json": "geojson",
    "application/json": "geojson",
}
SAMPLE_CSV = (
    "pole_id;asset_id;name;district;latitude;longitude;capabilities;ev_connectors;"
    "ev_max_power_kw;ev_plug_type;lamp_rated_power_w;commissioned_on\r\n"
    "CR-0001;Mast 12/345;Marktplatz 1;Altstadt;51,5523;7,3108;env,light,ev;2;22;Type2;56;"
    "17.05.2024\r\n"
)


@router.post(
    "/poles:import",
    response_model=ImportReportBody,
    responses={
        413: problem_response_doc("The body is larger than SMARTPOLE_API_MAX_IMPORT_BYTES"),
        422: problem_response_doc(
            "Rows were rejected: nothing was written; the report is under `report`"
        ),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The inventory file as it is: CSV or a GeoJSON FeatureCollection",
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": SAMPLE_CSV},
                "application/geo+json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def import_poles(
    *,
    request: Request,
    state: State,
    key_name: AdminKeyName,
    dry_run: Annotated[bool, Query(description="Report what would change; write nothing")] = False,
    file_format: Annotated[
        Literal["auto", "csv", "geojson"],
        Query(alias="format", description="auto: from Content-Type, else the first byte"),
    ] = "auto",
    crs: Annotated[
        str | None,
        Query(max_length=100, description="CRS of the coordinates", examples=["EPSG:25832"]),
    ] = None,
    encoding: Annotated[
        str, Query(max_length=20, description="utf-8 (BOM or not) or cp1252")
    ] = "utf-8",
    delimiter: Annotated[Literal[";", ",", "tab"] | None, Query()] = None,
    column_map: Annotated[
        str | None,
        Query(
            alias="map",
            max_length=2000,
            description="field=COLUMN pairs",
            examples=["name=BEZEICHNUNG,district=STADTTEIL"],
        ),
    ] = None,
    filename: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^[^\x00-\x1f\x7f/\\]+$",
            description="The file's name, for the report and the history",
            examples=["leuchten_2026.csv"],
        ),
    ] = None,
) -> Response:
    """Import a pole inventory (the same as `smartpole poles import`): the body is the
    file. Answers with the report; any rejected row means nothing is written (422
    with the report). See the README for the columns."""
    try:
        mapping = parse_mapping([column_map] if column_map else [])
    except MappingError as exc:
        raise bad_parameter("map", str(exc)) from None
    if file_format == "auto":
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        file_format = IMPORT_MEDIA_TYPES.get(media, "auto")  # type: ignore[assignment]
    options = ImportOptions(
        format=file_format,
        encoding=encoding,
        delimiter="\t" if delimiter == "tab" else delimiter,
        crs=crs,
        mapping=mapping,
        dry_run=dry_run,
    )
    for parameter, value in (("crs", crs), ("encoding", encoding)):
        try:
            check_options(ImportOptions(**{parameter: value}))  # type: ignore[arg-type]
        except InventoryConfigError as exc:
            raise bad_parameter(parameter, str(exc)) from None
    with tempfile.NamedTemporaryFile(prefix="smartpole-import-") as body:
        await _receive_body(request, body, state.settings.api_max_import_bytes)
        async with connection_slot(state):
            report = await run_in_threadpool(
                _import_file,
                state,
                Path(body.name),
                filename or "request body",
                options,
                actor(key_name),
            )
    try:
        if report.rejected and not dry_run:
            raise ProblemError(
                422,
                "Import rejected",
                f"{report.counts['rejected']} row(s) rejected; nothing was written",
                extra={"report": report.as_dict()},
            )
        return Response(
            orjson.dumps(report.as_dict()),
            media_type="application/json",
            headers={"Cache-Control": "no-store"},
        )
    finally:
        report.close()


async def _receive_body(request: Request, target: IO[bytes], limit: int) -> None:
    declared = request.headers.get("content-length", "")
    too_large = ProblemError(
        413,
        "Payload too large",
        f"an inventory import takes at most {limit} bytes (SMARTPOLE_API_MAX_IMPORT_BYTES); "
        "import larger files with `smartpole poles import`",
    )
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        target.write(chunk)
    target.flush()


def _import_file(
    state: ApiState, path: Path, name: str, options: ImportOptions, actor: str
) -> ImportReport:
    pool = state.pool
    assert pool is not None
    area = state.city_area or CityArea()
    try:
        with path.open("rb") as stream, pool.connection() as conn:
            return import_inventory(
                conn, stream, source_name=name, options=options, area=area, changed_by=actor
            )
    except InventoryConfigError as exc:
        raise bad_parameter("crs", str(exc)) from None
