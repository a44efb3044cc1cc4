"""Read responses: JSON with an ETag, Cache-Control and the data license."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from fastapi import Request
from pydantic import BaseModel
from starlette.responses import Response

from api.schemas import License


def license_link(lic: License) -> str:
    return f'<{lic.url}>; rel="license"; title="{lic.id}"'


def if_none_match_matches(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match header value names `etag` (weak comparison, RFC 9110)."""
    if not header:
        return False
    candidates = {c.strip().removeprefix("W/") for c in header.split(",")}
    return "*" in candidates or etag in candidates


def etag_matches(request: Request, etag: str) -> bool:
    return if_none_match_matches(request.headers.get("if-none-match"), etag)


def json_with_etag(request: Request, model: BaseModel, max_age_s: int, lic: License) -> Response:
    """Serialise `model` with its ETag, Cache-Control and license link; answer 304
    when the client already holds this exact body. (Keeping answers is the
    response cache's job: api/response_cache.py.)"""
    return body_with_etag(request, model.model_dump_json().encode(), max_age_s, lic)


def page_json(payload: dict[str, Any]) -> bytes:
    """A page of rows the platform stored itself, as JSON, the way pydantic would
    write its response model (UTC as Z, zone offsets as +01:00, enums as their
    values). For pages of thousands of rows, building and dumping one model per
    row cost several times more than the database query behind it."""
    return orjson.dumps(payload, option=orjson.OPT_UTC_Z)


def body_with_etag(request: Request, body: bytes, max_age_s: int, lic: License) -> Response:
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={max_age_s}",
        "Link": license_link(lic),
    }
    if etag_matches(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
