"""Opening database connections the way every service needs them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg

log = logging.getLogger(__name__)


def connect(dsn: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    # application_name shows up in pg_stat_activity: operators can tell workers apart.
    return psycopg.connect(
        dsn, autocommit=autocommit, connect_timeout=10, application_name="smartpole"
    )


def connect_with_retry(
    dsn: str,
    *,
    give_up_after_s: float | None,
    should_stop: Callable[[], bool] = lambda: False,
    autocommit: bool = False,
) -> psycopg.Connection[Any] | None:
    """Connect, retrying with backoff while the database is not up yet.

    Returns None when `should_stop` turns true first; raises the last error
    once `give_up_after_s` has passed (None: keep trying)."""
    started = time.monotonic()
    delay = 0.5
    while True:
        try:
            return connect(dsn, autocommit=autocommit)
        except psycopg.OperationalError as exc:
            waited = time.monotonic() - started
            if give_up_after_s is not None and waited >= give_up_after_s:
                raise
            log.warning("database not reachable (%s); retrying in %.1f s", _first_line(exc), delay)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            if should_stop():
                return None
            time.sleep(0.1)
        delay = min(delay * 2, 10.0)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
