"""The pole inventory's set-based writes and reads (import, export).

An import stages every row of the file in temporary tables of its own
transaction (binary COPY), finds in SQL what only the whole file and the
registry together can tell (a pole id on two lines, an asset id that another
pole holds, a retired pole), hands the caller each staged row next to the
pole as it is now, in batches, records the outcome the caller decided
(created or updated with its changes, unchanged, rejected), and applies the
created and updated rows with a few statements, history included. Python
memory stays bounded by the batch size whatever the file's size; nothing is
written unless the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, LiteralString

import orjson
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb, set_json_loads

from storage.readmodels.rebuild import regroup
from storage.readmodels.spec import NO_DISTRICT

# Registry columns an import maintains, with their staging type. `connectors` is
# staged as a jsonb array of {connector_id, max_power_kw, plug_type} (the
# pole_connectors rows), everything else as the poles column of the same name.
ENTRY_COLUMNS: tuple[tuple[LiteralString, LiteralString], ...] = (
    ("asset_id", "text"),
    ("name", "text"),
    ("district", "text"),
    ("latitude", "float8"),
    ("longitude", "float8"),
    ("capabilities", "text[]"),
    ("connectors", "jsonb"),
    ("lamp_rated_power_w", "float8"),
    ("commissioned_on", "date"),
    ("notes", "text"),
    ("properties", "jsonb"),
    ("internal_properties", "jsonb"),
)
ENTRY_FIELDS: tuple[LiteralString, ...] = tuple(name for name, _ in ENTRY_COLUMNS)
POLE_COLUMNS_OF_ENTRY: tuple[LiteralString, ...] = tuple(
    name for name in ENTRY_FIELDS if name != "connectors"
)
# `seq` numbers the rows of the file (several GeoJSON features may share a line).
STAGE_COLUMNS: tuple[tuple[LiteralString, LiteralString], ...] = (
    ("seq", "int4"),
    ("line", "int4"),
    ("pole_id", "text"),
    ("provided", "text[]"),
    *ENTRY_COLUMNS,
)
# Serialises imports: two at once would each diff against a registry the other changes.
IMPORT_LOCK_KEY = 0x5E7A_1A7E

_CURRENT_CONNECTORS = sql.SQL(
    "(SELECT coalesce(jsonb_agg(jsonb_build_object('connector_id', c.connector_id, "
    "'max_power_kw', c.max_power_kw, 'plug_type', c.plug_type) ORDER BY c.connector_id), "
    "'[]'::jsonb) FROM pole_connectors c WHERE c.pole_id = {pole})"
)


def _ident_list(names: Sequence[str], prefix: str | None = None) -> sql.Composable:
    if prefix is None:
        return sql.SQL(", ").join(map(sql.Identifier, names))
    return sql.SQL(", ").join(sql.Identifier(prefix, n) for n in names)


@dataclass(frozen=True, slots=True)
class Outcome:
    seq: int
    line: int
    pole_id: str
    kind: str  # created | updated | unchanged
    changes: dict[str, Any]


class ImportSession:
    """Temporary tables of one import, on a connection inside a transaction the
    caller owns (they are dropped when it ends)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    @classmethod
    def open(cls, conn: psycopg.Connection[Any], *, serialise: bool) -> ImportSession:
        # An import of a few hundred thousand rows runs statements longer than the
        # API's 30 s for interactive reads; bounded all the same.
        conn.execute("SET LOCAL statement_timeout = '10min'")
        if serialise:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (IMPORT_LOCK_KEY,))
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in STAGE_COLUMNS
        )
        conn.execute(sql.SQL("CREATE TEMP TABLE import_rows ({}) ON COMMIT DROP").format(columns))
        conn.execute(
            "CREATE TEMP TABLE import_rejections (seq int NOT NULL, line int NOT NULL, "
            "pole_id text, "
            "pole_id_valid boolean NOT NULL, reason text NOT NULL) ON COMMIT DROP"
        )
        conn.execute(
            "CREATE TEMP TABLE import_outcomes (seq int PRIMARY KEY, line int NOT NULL, "
            "pole_id text NOT NULL, "
            "kind text NOT NULL, changes jsonb NOT NULL) ON COMMIT DROP"
        )
        return cls(conn)

    # --- staging -------------------------------------------------------------

    def stage(self, rows: Sequence[Sequence[Any]]) -> None:
        """Rows in STAGE_COLUMNS order (jsonb values as Python objects)."""
        if not rows:
            return
        jsonb_at = [i for i, (_, t) in enumerate(STAGE_COLUMNS) if t == "jsonb"]
        with self.conn.cursor() as cur:
            statement = sql.SQL("COPY import_rows ({}) FROM STDIN (FORMAT BINARY)").format(
                _ident_list([n for n, _ in STAGE_COLUMNS])
            )
            with cur.copy(statement) as copy:
                copy.set_types([t for _, t in STAGE_COLUMNS])
                for row in rows:
                    values = list(row)
                    for i in jsonb_at:
                        if values[i] is not None:
                            values[i] = Jsonb(values[i], dumps=orjson.dumps)
                    copy.write_row(values)

    def reject(self, rows: Sequence[tuple[int, int, str | None, bool, str]]) -> None:
        """(seq, line, pole id as written, whether that id is valid, reason); seq 0 is
        the file as a whole."""
        if not rows:
            return
        with (
            self.conn.cursor() as cur,
            cur.copy(
                "COPY import_rejections (seq, line, pole_id, pole_id_valid, reason) "
                "FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(["int4", "int4", "text", "bool", "text"])
            for row in rows:
                copy.write_row(row)

    def rejected_count(self) -> int:
        row = self.conn.execute("SELECT count(DISTINCT seq) FROM import_rejections").fetchone()
        assert row is not None
        return int(row[0])

    # --- what only the whole file tells ----------------------------------------

    def duplicate_pole_ids(self) -> Iterator[tuple[str, list[int], list[int]]]:
        """(pole id, seqs, lines) of pole ids on more than one row (staged, or
        rejected for another reason)."""
        yield from self._stream(
            """
            SELECT pole_id, array_agg(seq ORDER BY seq), array_agg(line ORDER BY seq) FROM (
                SELECT seq, line, pole_id FROM import_rows
                UNION ALL
                SELECT DISTINCT seq, line, pole_id FROM import_rejections
                WHERE pole_id_valid AND seq NOT IN (SELECT seq FROM import_rows)
            ) ids
            GROUP BY pole_id HAVING count(*) > 1
            ORDER BY min(seq)
            """
        )

    def duplicate_asset_ids(self) -> Iterator[tuple[str, list[int], list[int]]]:
        yield from self._stream(
            """
            SELECT asset_id, array_agg(seq ORDER BY seq), array_agg(line ORDER BY seq)
            FROM import_rows
            WHERE asset_id IS NOT NULL AND 'asset_id' = ANY (provided)
            GROUP BY asset_id HAVING count(DISTINCT pole_id) > 1
            ORDER BY min(seq)
            """
        )

    def taken_asset_ids(self) -> Iterator[tuple[int, int, str, str, str]]:
        """(seq, line, pole id, asset id, other pole) where the import would give an asset id
        to a pole while another current pole, not changed by this file, keeps it."""
        yield from self._stream(
            """
            SELECT s.seq, s.line, s.pole_id, s.asset_id, p.pole_id
            FROM import_rows s
            JOIN poles p ON p.asset_id = s.asset_id AND p.pole_id <> s.pole_id
                        AND p.decommissioned_at IS NULL
            WHERE 'asset_id' = ANY (s.provided) AND s.asset_id IS NOT NULL
              AND NOT EXISTS (
                  SELECT 1 FROM import_rows o
                  WHERE o.pole_id = p.pole_id AND 'asset_id' = ANY (o.provided)
                    AND o.asset_id IS DISTINCT FROM p.asset_id)
            ORDER BY s.seq
            """
        )

    def retired_poles(self) -> Iterator[tuple[int, int, str, Any]]:
        yield from self._stream(
            """
            SELECT s.seq, s.line, s.pole_id, p.decommissioned_at
            FROM import_rows s JOIN poles p USING (pole_id)
            WHERE p.decommissioned_at IS NOT NULL
            ORDER BY s.seq
            """
        )

    def _stream(self, query: LiteralString, batch_size: int = 2000) -> Iterator[Any]:
        with self.conn.cursor(name="import_scan") as cur:
            cur.execute(query)
            while batch := cur.fetchmany(batch_size):
                yield from batch

    # --- diff ---------------------------------------------------------------------

    def lock_poles(self) -> None:
        """Lock the poles this file names, in pole id order (the writer updates
        poles in the same order, so the two cannot deadlock)."""
        self.conn.execute(
            """
            SELECT count(*) FROM (
                SELECT 1 FROM poles p WHERE p.pole_id IN (SELECT pole_id FROM import_rows)
                ORDER BY p.pole_id FOR UPDATE OF p
            ) locked
            """
        )

    def pairs(
        self, batch_size: int = 2000
    ) -> Iterator[list[tuple[dict[str, Any], dict[str, Any] | None]]]:
        """Batches of (staged row, the pole's current entry or None), for every row not
        rejected, in file order. Both sides come out of PostgreSQL, so a value means
        the same on either side (floats, dates, jsonb)."""
        current = [
            sql.SQL("p.{} AS {}").format(sql.Identifier(n), sql.Identifier(f"cur_{n}"))
            for n in POLE_COLUMNS_OF_ENTRY
        ]
        query = sql.SQL(
            """
            SELECT s.*, p.pole_id IS NOT NULL AS cur_exists, {current},
                   CASE WHEN p.pole_id IS NOT NULL THEN {connectors} END AS cur_connectors
            FROM import_rows s LEFT JOIN poles p USING (pole_id)
            WHERE NOT EXISTS (SELECT 1 FROM import_rejections r WHERE r.seq = s.seq)
            ORDER BY s.seq
            """
        ).format(
            current=sql.SQL(", ").join(current),
            connectors=_CURRENT_CONNECTORS.format(pole=sql.SQL("s.pole_id")),
        )
        with self.conn.cursor(name="import_pairs", row_factory=dict_row) as cur:
            set_json_loads(orjson.loads, cur)  # this cursor only; about 3x json.loads
            cur.execute(query)
            while rows := cur.fetchmany(batch_size):
                batch: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
                for row in rows:
                    staged = {k: v for k, v in row.items() if not k.startswith("cur_")}
                    now = None
                    if row["cur_exists"]:
                        now = {n: row[f"cur_{n}"] for n in ENTRY_FIELDS}
                    batch.append((staged, now))
                yield batch

    def record(self, outcomes: Sequence[Outcome]) -> None:
        if not outcomes:
            return
        with (
            self.conn.cursor() as cur,
            cur.copy(
                "COPY import_outcomes (seq, line, pole_id, kind, changes) "
                "FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(["int4", "int4", "text", "text", "jsonb"])
            for o in outcomes:
                copy.write_row(
                    (o.seq, o.line, o.pole_id, o.kind, Jsonb(o.changes, dumps=orjson.dumps))
                )

    # --- the report -------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        counts = dict(
            self.conn.execute("SELECT kind, count(*) FROM import_outcomes GROUP BY kind").fetchall()
        )
        counts["rejected"] = self.rejected_count()
        return {kind: int(counts.get(kind, 0)) for kind in REPORT_KINDS}

    def report_rows(self, kind: str, batch_size: int = 2000) -> Iterator[dict[str, Any]]:
        """The rows of one kind in file order: {seq, line, pole_id, changes} or, for
        rejected, {seq, line, pole_id, reason} (one per row, reasons joined)."""
        query: sql.Composable
        if kind == "rejected":
            query = sql.SQL(
                "SELECT seq, min(line) AS line, (array_agg(pole_id))[1] AS pole_id, "
                "string_agg(reason, '; ' ORDER BY reason) AS reason "
                "FROM import_rejections GROUP BY seq ORDER BY seq"
            )
        else:
            query = sql.SQL(
                "SELECT seq, line, pole_id, changes FROM import_outcomes WHERE kind = {} "
                "ORDER BY seq"
            ).format(sql.Literal(kind))
        with self.conn.cursor(name="import_report", row_factory=dict_row) as cur:
            cur.execute(query)
            while rows := cur.fetchmany(batch_size):
                yield from rows

    # --- apply ---------------------------------------------------------------------------

    def apply(self, *, changed_by: str, source: str) -> None:
        """Write created and updated rows, their connectors and their history; poles
        that change district (including poles the writer registered from their first
        messages, which sit under no district) move their share of the rollups."""
        moved = self._districts_changing()
        # An asset id moving from one pole to another in this file: free them all
        # first, since the unique index checks each row as it is updated.
        self.conn.execute(
            sql.SQL(
                """
                UPDATE poles p SET asset_id = NULL
                FROM import_rows s
                WHERE s.seq IN ({changed}) AND p.pole_id = s.pole_id
                  AND 'asset_id' = ANY (s.provided) AND p.asset_id IS DISTINCT FROM s.asset_id
                """
            ).format(changed=_CHANGED_LINES)
        )
        self.conn.execute(
            sql.SQL(
                """
                UPDATE poles p SET {updates}, updated_at = now()
                FROM import_rows s JOIN import_outcomes o ON o.seq = s.seq
                WHERE o.kind = 'updated' AND p.pole_id = s.pole_id
                """
            ).format(
                updates=sql.SQL(", ").join(
                    sql.SQL(
                        "{c} = CASE WHEN {n} = ANY (s.provided) THEN s.{c} ELSE p.{c} END"
                    ).format(c=sql.Identifier(n), n=sql.Literal(n))
                    for n in POLE_COLUMNS_OF_ENTRY
                )
            )
        )
        # New poles; one the writer registered meanwhile (a first message) gets the
        # file's registry fields all the same.
        defaults = {
            "capabilities": sql.SQL("coalesce(s.capabilities, '{}')"),
            "properties": sql.SQL("coalesce(s.properties, '{}')"),
            "internal_properties": sql.SQL("coalesce(s.internal_properties, '{}')"),
        }
        self.conn.execute(
            sql.SQL(
                """
                INSERT INTO poles AS p (pole_id, {columns})
                SELECT s.pole_id, {values}
                FROM import_rows s JOIN import_outcomes o ON o.seq = s.seq
                WHERE o.kind = 'created'
                ORDER BY s.pole_id
                ON CONFLICT (pole_id) DO UPDATE SET {updates}, updated_at = now()
                """
            ).format(
                columns=_ident_list(POLE_COLUMNS_OF_ENTRY),
                values=sql.SQL(", ").join(
                    defaults.get(n, sql.Identifier("s", n)) for n in POLE_COLUMNS_OF_ENTRY
                ),
                updates=sql.SQL(", ").join(
                    sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(n))
                    for n in POLE_COLUMNS_OF_ENTRY
                ),
            )
        )
        self.conn.execute(
            sql.SQL(
                """
                DELETE FROM pole_connectors
                WHERE pole_id IN (SELECT pole_id FROM import_rows WHERE seq IN ({lines}))
                """
            ).format(lines=_CHANGED_CONNECTOR_LINES)
        )
        self.conn.execute(
            sql.SQL(
                """
                INSERT INTO pole_connectors (pole_id, connector_id, max_power_kw, plug_type)
                SELECT s.pole_id, c.connector_id, c.max_power_kw, c.plug_type
                FROM import_rows s
                CROSS JOIN LATERAL jsonb_to_recordset(s.connectors)
                    AS c(connector_id smallint, max_power_kw float8, plug_type text)
                WHERE s.seq IN ({lines})
                ORDER BY s.pole_id, c.connector_id
                """
            ).format(lines=_CHANGED_CONNECTOR_LINES)
        )
        self.conn.execute(
            """
            INSERT INTO pole_registry_history (pole_id, changed_by, source, changes)
            SELECT pole_id, %s, %s, changes FROM import_outcomes
            WHERE kind IN ('created', 'updated') ORDER BY seq
            """,
            (changed_by, source),
        )
        if moved:
            regroup(self.conn, moved)

    def _districts_changing(self) -> list[str]:
        """Every district a pole of this import leaves or joins."""
        rows = self.conn.execute(
            """
            SELECT DISTINCT d FROM (
                SELECT coalesce(p.district, %(none)s) AS old, coalesce(s.district, %(none)s) AS new
                FROM import_rows s
                JOIN import_outcomes o ON o.seq = s.seq
                JOIN poles p ON p.pole_id = s.pole_id
                WHERE o.kind IN ('updated', 'created') AND 'district' = ANY (s.provided)
                  AND p.district IS DISTINCT FROM s.district
            ) x CROSS JOIN LATERAL (VALUES (x.old), (x.new)) v(d)
            ORDER BY d
            """,
            {"none": NO_DISTRICT},
        ).fetchall()
        return [r[0] for r in rows]


REPORT_KINDS = ("created", "updated", "unchanged", "rejected")
_CHANGED_LINES = sql.SQL("SELECT seq FROM import_outcomes WHERE kind IN ('created', 'updated')")
_CHANGED_CONNECTOR_LINES = sql.SQL(
    "{} INTERSECT SELECT seq FROM import_rows WHERE 'connectors' = ANY (provided)"
).format(_CHANGED_LINES)


# --- export ----------------------------------------------------------------------------


def property_keys(conn: psycopg.Connection[Any]) -> tuple[list[str], list[str]]:
    """Every public and every internal property key of the current poles, sorted."""
    row = conn.execute(
        """
        SELECT
          coalesce((SELECT array_agg(DISTINCT k ORDER BY k) FROM poles,
                    jsonb_object_keys(properties) k WHERE decommissioned_at IS NULL), '{}'),
          coalesce((SELECT array_agg(DISTINCT k ORDER BY k) FROM poles,
                    jsonb_object_keys(internal_properties) k WHERE decommissioned_at IS NULL),
                   '{}')
        """
    ).fetchone()
    assert row is not None
    return list(row[0]), list(row[1])


def stream_entries(
    conn: psycopg.Connection[Any], batch_size: int = 2000
) -> Iterator[list[dict[str, Any]]]:
    """Every current pole's registry entry (ENTRY_FIELDS plus pole_id), by pole id,
    through a server-side cursor."""
    query = sql.SQL(
        """
        SELECT pole_id, {columns}, {connectors} AS connectors FROM poles
        WHERE decommissioned_at IS NULL ORDER BY pole_id
        """
    ).format(
        columns=_ident_list(POLE_COLUMNS_OF_ENTRY),
        connectors=_CURRENT_CONNECTORS.format(pole=sql.SQL("poles.pole_id")),
    )
    with (
        conn.transaction(),
        conn.cursor(name="inventory_export", row_factory=dict_row) as cur,
    ):
        cur.execute(query)
        while rows := cur.fetchmany(batch_size):
            yield rows


def current_entry(conn: psycopg.Connection[Any], pole_id: str) -> dict[str, Any] | None:
    query = sql.SQL(
        "SELECT pole_id, {columns}, {connectors} AS connectors, decommissioned_at "
        "FROM poles WHERE pole_id = %s"
    ).format(
        columns=_ident_list(POLE_COLUMNS_OF_ENTRY),
        connectors=_CURRENT_CONNECTORS.format(pole=sql.SQL("poles.pole_id")),
    )
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, (pole_id,))
        return cur.fetchone()
