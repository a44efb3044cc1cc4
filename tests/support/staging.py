"""A ReadingWriter for servers without COPY FROM STDIN (the PGlite TimescaleDB
test server): the same merge, read models and change feed, staged with one
INSERT ... SELECT FROM unnest per family instead of COPY."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql

from models.topics import Family
from storage.readmodels import merge
from storage.writer import LAYOUTS, ReadingWriter, ReceivedReading

_ARRAY_TYPES = {"int2": "smallint", "timestamptz": "timestamptz", "text": "text",
                "float4": "real", "float8": "double precision", "int4": "integer",
                "int8": "bigint"}  # fmt: skip


class InsertStagingWriter(ReadingWriter):
    def _stage(
        self, cur: psycopg.Cursor[Any], family: Family, items: Iterable[ReceivedReading]
    ) -> None:
        layout = LAYOUTS[family]
        rows = [layout.to_row(item) for item in items]
        columns = list(zip(*rows, strict=True)) if rows else [[] for _ in layout.columns]
        cur.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT * FROM unnest({})").format(
                sql.Identifier(merge.stage_table(family)),
                sql.SQL(", ").join(map(sql.Identifier, layout.columns)),
                sql.SQL(", ").join(
                    sql.SQL("%s::{}[]").format(sql.SQL(_ARRAY_TYPES[t])) for t in layout.types
                ),
            ),
            [[str(v) if hasattr(v, "value") else v for v in col] for col in columns],
        )
