"""Helpers every read route uses: responding, paging links, local times."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from pydantic import BaseModel
from starlette.responses import Response

from api.cursors import encode_cursor
from api.deps import ApiState
from api.responses import body_with_etag, json_with_etag, page_json


def respond(request: Request, state: ApiState, model: BaseModel) -> Response:
    return json_with_etag(request, model, state.settings.api_cache_max_age_s, state.license)


def respond_page(request: Request, state: ApiState, payload: dict[str, Any]) -> Response:
    """A page of the route's response model, given as plain data (rows from our own
    tables, in the model's field names) and written without building the model:
    tests/api/test_schemathesis.py checks the answers against the schema."""
    payload["license"] = {"id": state.license.id, "url": state.license.url}
    body = page_json(payload)
    return body_with_etag(request, body, state.settings.api_cache_max_age_s, state.license)


def next_link(
    request: Request, rows: list[Any], limit: int, kind: str, key: list[Any] | None
) -> str | None:
    """The URL of the next page, or None when this page was not full."""
    if len(rows) < limit or key is None:
        return None
    return str(request.url.include_query_params(cursor=encode_cursor(kind, key)))


def local(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    return None if value is None else value.astimezone(zone)
