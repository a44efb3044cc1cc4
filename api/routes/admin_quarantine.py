"""Admin: the quarantine, as `smartpole quarantine` offers it (list, show,
replay with today's rules, purge). Needs an admin key, like every admin route."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.cursors import decode_cursor
from api.deps import AdminKeyName, Db, State, connection_slot, page_size, require_admin
from api.params import EARLIEST, LATEST, CursorQuery, LimitQuery, PoleQuery
from api.problems import COMMON_PROBLEMS, bad_parameter, not_found, problem_response_doc
from api.routes.common import next_link
from models.wire import DecodeLimits, RejectionKind
from storage import quarantine
from storage.quarantine import NOT_REPLAYABLE, QuarantineEntry, QuarantineFilter

log = logging.getLogger(__name__)

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


class QuarantinedMessage(BaseModel):
    id: int = Field(examples=[1234])
    received_at: datetime = Field(description="When it first arrived (platform clock)")
    last_received_at: datetime
    times_seen: int = Field(description="How often these bytes arrived on this topic")
    topic: str
    pole_id: str | None
    family: str | None
    item_index: int | None = Field(description="Position in the message's array, if one")
    reason_kind: RejectionKind = Field(examples=["invalid_reading"])
    reason: str = Field(examples=["pm25: unknown field"])
    payload_bytes: int
    replayable: bool = Field(description=f"false: {NOT_REPLAYABLE}")


class QuarantinedMessageDetail(QuarantinedMessage):
    payload_sha256: str
    payload: str = Field(description="The kept bytes as UTF-8 (undecodable bytes as \\xNN)")


class QuarantineKind(BaseModel):
    reason_kind: RejectionKind = Field(examples=["too_large"])
    rows: int = Field(examples=[3])
    messages: int
    not_replayable: int
    first_received_at: datetime
    last_received_at: datetime


class QuarantinePage(BaseModel):
    summary: list[QuarantineKind] = Field(description="Every matching row, by kind of reason")
    items: list[QuarantinedMessage]
    next: str | None = Field(None, description="URL of the next page; null on the last page")


class ReplayResult(BaseModel):
    dry_run: bool = Field(examples=[True])
    examined: int = Field(description="Replayable rows matching the filter", examples=[120])
    not_replayable: int
    resolved: int = Field(description="Rows that now pass (removed from the quarantine)")
    stored: int = Field(description="Readings newly stored")
    duplicates: int = Field(description="Readings that were stored already")
    still_quarantined: int
    reason_changed: int
    still_quarantined_by_kind: dict[str, int]


class PurgeResult(BaseModel):
    dry_run: bool
    deleted: int = Field(examples=[42])


ReasonQuery = Annotated[
    list[RejectionKind] | None, Query(description="Only these kinds of reason (repeatable)")
]
SinceQuery = Annotated[
    datetime | None,
    Query(description="First received at or after (ISO 8601; without an offset: UTC)"),
]
UntilQuery = Annotated[datetime | None, Query(description="First received before")]
IdPath = Annotated[int, Path(ge=1, le=quarantine.MAX_ID, description="Quarantine row id")]
DryRunQuery = Annotated[bool, Query(description="Report what would happen; write nothing")]


def _utc(name: str, moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not EARLIEST <= moment <= LATEST:
        raise bad_parameter(name, f"must lie between {EARLIEST:%Y} and {LATEST:%Y}")
    return moment


def _filter(
    reason: list[RejectionKind] | None,
    since: datetime | None,
    until: datetime | None,
    pole_id: str | None,
) -> QuarantineFilter:
    return QuarantineFilter(
        kinds=tuple(RejectionKind(k) for k in reason or ()),
        since=_utc("since", since),
        until=_utc("until", until),
        pole_id=pole_id,
    )


def _json(body: BaseModel | dict[str, Any]) -> Response:
    content = body.model_dump_json() if isinstance(body, BaseModel) else orjson.dumps(body)
    return Response(content, media_type="application/json", headers={"Cache-Control": "no-store"})


def _message(entry: QuarantineEntry) -> QuarantinedMessage:
    return QuarantinedMessage(
        id=entry.id,
        received_at=entry.received_at,
        last_received_at=entry.last_received_at,
        times_seen=entry.times_seen,
        topic=entry.topic,
        pole_id=entry.pole_id,
        family=entry.family,
        item_index=entry.item_index,
        reason_kind=RejectionKind(entry.reason_kind),
        reason=entry.reason,
        payload_bytes=entry.payload_bytes,
        replayable=entry.replayable,
    )


@router.get("/quarantine", response_model=QuarantinePage)
def list_quarantine(
    *,
    request: Request,
    state: State,
    db: Db,
    reason: ReasonQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
    pole_id: PoleQuery = None,
    limit: LimitQuery = None,
    cursor: CursorQuery = None,
) -> Response:
    """Quarantined messages, oldest first, with a summary by kind of reason.
    Oversized payloads were kept only in part and say `replayable: false`."""
    where = _filter(reason, since, until, pole_id)
    after = decode_cursor(cursor, "quarantine", (int,))[0] if cursor else None
    size = page_size(state, limit)
    with db.connection() as conn:
        summary = quarantine.summarise(conn, where)
        entries = quarantine.list_entries(conn, where, after_id=after, limit=size)
    key = [entries[-1].id] if entries else None
    return _json(
        QuarantinePage(
            summary=[QuarantineKind.model_validate(k, from_attributes=True) for k in summary],
            items=[_message(e) for e in entries],
            next=next_link(request, entries, size, "quarantine", key),
        )
    )


@router.get(
    "/quarantine/{quarantine_id}",
    response_model=QuarantinedMessageDetail,
    responses={404: problem_response_doc("No such quarantined message")},
)
def show_quarantined(*, db: Db, quarantine_id: IdPath) -> Response:
    """One quarantined message with the bytes kept of it."""
    with db.connection() as conn:
        found = quarantine.get_entry(conn, quarantine_id)
    if found is None:
        raise not_found(f"no quarantined message {quarantine_id}")
    entry, payload, digest = found
    return _json(
        QuarantinedMessageDetail(
            **_message(entry).model_dump(),
            payload_sha256=digest.hex(),
            payload=payload.decode("utf-8", "backslashreplace"),
        )
    )


@router.post("/quarantine:replay", response_model=ReplayResult)
async def replay_quarantine(
    *,
    state: State,
    key_name: AdminKeyName,
    reason: ReasonQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
    pole_id: PoleQuery = None,
    dry_run: DryRunQuery = False,
) -> Response:
    """Validate the matching messages with today's rules: store the ones that now pass
    (exactly once, read models updated, as ingest would have), keep the rest with
    their new reason. The same as `smartpole quarantine replay`."""
    where = _filter(reason, since, until, pole_id)
    settings = state.settings
    limits = DecodeLimits(
        max_payload_bytes=settings.ingest_max_payload_bytes,
        max_future_skew=timedelta(seconds=settings.ingest_max_future_skew_s),
    )

    def run() -> quarantine.ReplayReport:
        pool = state.pool
        assert pool is not None
        with pool.connection() as conn:
            return quarantine.replay(conn, where, limits, dry_run=dry_run)

    async with connection_slot(state):
        report = await run_in_threadpool(run)
    log.info("quarantine replay by admin-key:%s: %s", key_name, report.as_dict())
    return _json(ReplayResult.model_validate(report.as_dict()))


@router.post("/quarantine:purge", response_model=PurgeResult)
def purge_quarantine(
    *,
    db: Db,
    key_name: AdminKeyName,
    reason: ReasonQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
    pole_id: PoleQuery = None,
    purge_all: Annotated[
        bool, Query(alias="all", description="Every row: needed when no filter is given")
    ] = False,
    dry_run: DryRunQuery = False,
) -> Response:
    """Delete the matching quarantined messages (a filter, or all=true)."""
    where = _filter(reason, since, until, pole_id)
    if where.is_empty() and not purge_all:
        raise bad_parameter("all", "give a filter, or all=true to delete every row")
    with db.connection() as conn:
        deleted = quarantine.purge(conn, where, dry_run=dry_run)
    log.info("quarantine purge by admin-key:%s: %d rows (dry run: %s)", key_name, deleted, dry_run)
    return _json(PurgeResult(dry_run=dry_run, deleted=deleted))
