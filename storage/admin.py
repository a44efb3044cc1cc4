"""Cluster-level administration: what must exist before migrations can run."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from storage.connection import connect


def ensure_database(admin_dsn: str, name: str) -> bool:
    """Create database `name` unless it exists; True when it was created.

    `admin_dsn` points at a maintenance database (e.g. `postgres`) of a role
    allowed to create databases. CREATE DATABASE cannot run in a transaction,
    hence autocommit."""
    with connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def database_answers(dsn: str) -> None:
    """Raise psycopg.Error unless the database accepts a session and a query."""
    with connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT 1")


def database_size_bytes(conn: psycopg.Connection[Any]) -> int:
    """Disk used by the connected database (tables, indexes, TOAST, WAL excluded)."""
    with conn.transaction():
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0
