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
from api.responses import json_with_etag


def respond(request: Request, state: ApiState, model: BaseModel) -> Response:
    return json_with_etag(request, model, state.settings.api_cache_max_age_s, state.license)


def next_link(
    request: Request, rows: list[Any], limit: int, kind: str, key: list[Any] | None
) -> str | None:
    """The URL of the next page, or None when this page was not full."""
    if len(rows) < limit or key is None:
        return None
    return str(request.url.include_query_params(cursor=encode_cursor(kind, key)))


def local(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    return None if value is None else value.astimezone(zone)
