"""Errors as RFC 9457 problem details (application/problem+json).

Every error a client can cause gets a precise `detail`; validation errors
also list each bad parameter under `errors`. Anything unexpected becomes a
plain 500 problem without internals (and is logged), never a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://smartpole.example/problems/"

# For the OpenAPI docs: every endpoint may answer with these.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["type", "title", "status", "detail"],
}


def problem_response_doc(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}}


COMMON_PROBLEMS: dict[int | str, dict[str, Any]] = {
    422: problem_response_doc("A parameter is invalid; `detail` and `errors` say which and why."),
}


class ProblemError(Exception):
    """Raise from anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind or title.lower().replace(" ", "-")
        self.headers = headers or {}
        self.extra = extra or {}


def bad_parameter(name: str, detail: str, *, hint: str | None = None) -> ProblemError:
    extra: dict[str, Any] = {"errors": [{"parameter": name, "detail": detail}]}
    if hint:
        extra["hint"] = hint
    return ProblemError(
        422, "Invalid parameter", f"{name}: {detail}", kind="invalid-parameter", extra=extra
    )


def not_found(detail: str) -> ProblemError:
    return ProblemError(404, "Not found", detail)


def problem_body(request: Request, problem: ProblemError) -> bytes:
    doc: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + problem.kind,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.url.path,
        **problem.extra,
    }
    return orjson.dumps(doc)


def render(request: Request, problem: ProblemError) -> Response:
    return Response(
        problem_body(request, problem),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )


def _location(loc: tuple[Any, ...]) -> str:
    # ("query", "from") -> "from"; ("body", "latitude") -> "body.latitude"
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "request"


def _validation_problem(exc: RequestValidationError) -> ProblemError:
    errors = [
        {"parameter": _location(tuple(e.get("loc", ()))), "detail": str(e.get("msg", "invalid"))}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{e['parameter']}: {e['detail']}" for e in errors) or "invalid request"
    return ProblemError(
        422, "Invalid parameter", detail, kind="invalid-parameter", extra={"errors": errors}
    )


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        return render(request, exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return render(request, _validation_problem(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized"}
        title = titles.get(exc.status_code, "HTTP error")
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no endpoint at {request.url.path[:200]!r}; see /docs"
        return render(
            request, ProblemError(exc.status_code, title, detail, headers=dict(exc.headers or {}))
        )

    async def on_database_down(request: Request, exc: Exception) -> Response:
        log.warning("database unavailable: %s", exc)
        return render(
            request,
            ProblemError(
                503,
                "Service unavailable",
                "the database is not reachable; retry later",
                headers={"Retry-After": "5"},
            ),
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render(request, ProblemError(500, "Internal error", "an unexpected error occurred"))

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(psycopg.OperationalError, on_database_down)
    # psycopg_pool raises PoolTimeout (an OperationalError) when every connection is busy.
    app.add_exception_handler(Exception, on_unexpected)
