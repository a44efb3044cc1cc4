"""Operations: service health and Prometheus metrics (not versioned, not cached)."""

from __future__ import annotations

import logging

import psycopg
from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg_pool import PoolTimeout
from starlette.responses import Response

from api.deps import State
from api.schemas import ServiceHealth
from models.catalogue.health import DEFAULT_HEALTH
from storage.queries import health as health_queries

log = logging.getLogger(__name__)
# /health answers within this even when the database is away (a load balancer
# or orchestrator polls it; waiting the full pool timeout would look like a hang).
HEALTH_DB_WAIT_S = 2.0

router = APIRouter(tags=["operations"])


@router.get(
    "/health",
    response_model=ServiceHealth,
    responses={503: {"description": "The database is unreachable", "model": ServiceHealth}},
)
def health(state: State) -> Response:
    """Database reachable? TimescaleDB active? How old is the newest ingested message?"""
    assert state.pool is not None
    try:
        with state.pool.connection(timeout=HEALTH_DB_WAIT_S) as conn:
            facts = health_queries.platform_facts(conn)
    except (psycopg.OperationalError, PoolTimeout) as exc:
        log.warning("health: database unreachable: %s", exc)
        body = ServiceHealth(
            status="down",
            database="unreachable",
            timescaledb=False,
            timescaledb_version=None,
            poles=None,
            last_message_age_s=None,
            newest_observation_age_s=None,
        )
        return Response(
            body.model_dump_json(),
            status_code=503,
            media_type="application/json",
            headers={"Cache-Control": "no-store"},
        )
    now = facts["checked_at"]

    def age(value: object) -> float | None:
        return None if value is None else round((now - value).total_seconds(), 3)

    last_message_age = age(facts["last_message_at"])
    # Degraded: the newest message of the whole fleet is older than the time
    # after which a single pole counts as offline.
    offline_after_s = facts["offline_after_s"] or DEFAULT_HEALTH.offline_after.total_seconds()
    stale = last_message_age is not None and last_message_age > offline_after_s
    body = ServiceHealth(
        status="degraded" if stale else "ok",
        database="reachable",
        timescaledb=facts["timescaledb_version"] is not None,
        timescaledb_version=facts["timescaledb_version"],
        poles=facts["poles"],
        last_message_age_s=last_message_age,
        newest_observation_age_s=age(facts["newest_observation_at"]),
    )
    return Response(
        body.model_dump_json(), media_type="application/json", headers={"Cache-Control": "no-store"}
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text format",
            "content": {
                "text/plain": {
                    "example": 'smartpole_api_requests_total{method="GET",route="/v1/poles",'
                    'status="200"} 42.0\n'
                }
            },
        }
    },
)
def metrics(request: Request) -> Response:
    """Prometheus metrics: requests by route and status, latency, pool usage."""
    registry = request.app.state.metrics.registry
    return Response(
        generate_latest(registry),
        media_type=CONTENT_TYPE_LATEST,
        headers={"Cache-Control": "no-store"},
    )
