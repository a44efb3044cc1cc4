"""Read queries of the SensorThings facade: lists with keyset or offset pages,
counts under a time limit, and batched expands.

Every list is `SELECT e.* FROM (<entity source>) e WHERE <scope> AND <filter>
AND <keyset> ORDER BY <order> LIMIT n+1`; the extra row says whether a next
page exists. Observations are read per (family, metric): a request for one
Datastream reads one reading table by its primary key, and a list over all
Observations pushes the order and the limit into each branch (so page 10,000
of the ordered list costs what page 1 costs: an index range scan per branch).
An expand costs one statement per relation per page, whatever the page size.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads

from models.catalogue.families import FAMILIES
from models.sensorthings.ids import (
    METRIC_STRIDE,
    StreamKind,
    split_aggregate_observation_id,
    split_datastream_id,
    split_observation_id,
)
from models.sensorthings.mapping import FAMILY_PROPERTIES, OBSERVED_PROPERTIES
from models.sensorthings.odata import (
    Expand,
    Node,
    NotImplementedQuery,
    OrderBy,
    Path,
    QueryError,
    QueryOptions,
)
from models.topics import Family
from storage.queries.sta_entities import (
    SETS,
    EntitySet,
    StreamScope,
    aggregate_branch,
    observation_branch,
    source,
)
from storage.queries.sta_filter import Compiler, Params, Typed, compile_value
from storage.readmodels.spec import ENV_DAILY, LATEST_TABLES, POLE_ROLLUPS

KEYSET_TYPES = frozenset({"id", "number", "string", "datetime"})
# The rollup each family's Observation counts are summed from (coarsest first).
COUNT_ROLLUPS = {**POLE_ROLLUPS, Family.ENV: ENV_DAILY}


@dataclass(frozen=True, slots=True)
class Scope:
    """The rows of a navigation from one parent: `e.<column> = value`."""

    column: str
    value: Any


@dataclass(frozen=True, slots=True)
class CountResult:
    value: int
    exact: bool


@dataclass
class Page:
    rows: list[dict[str, Any]]
    more: bool
    # the sort key values of the last row (keyset token), None when paged by offset
    last_keys: list[Any] | None = None
    count: CountResult | None = None


@dataclass
class Order:
    items: list[tuple[Typed, bool, str | None]]  # (value, descending, plain property name)
    keyset: bool


@dataclass
class ListRequest:
    entity: EntitySet
    options: QueryOptions
    top: int
    skip: int = 0
    after: list[Any] | None = None
    scope: Scope | None = None
    # Observations of these Datastream rows (a path or an expand under Datastreams)
    streams: list[dict[str, Any]] | None = None
    count_timeout_ms: int = 2000
    want_count: bool = False
    extra: list[sql.Composable] = field(default_factory=list)


# -- keyset tokens ------------------------------------------------------------------


def encode_token(values: list[Any]) -> str:
    def plain(v: Any) -> Any:
        return {"t": v.isoformat()} if isinstance(v, datetime) else v

    raw = orjson.dumps([plain(v) for v in values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise QueryError("$skiptoken is not one this server gave out") from exc
    if not isinstance(values, list) or len(values) > 8:
        raise QueryError("$skiptoken is not one this server gave out")
    out: list[Any] = []
    for v in values:
        if isinstance(v, dict) and set(v) == {"t"} and isinstance(v["t"], str):
            try:
                out.append(datetime.fromisoformat(v["t"]))
            except ValueError as exc:
                raise QueryError("$skiptoken is not one this server gave out") from exc
        elif isinstance(v, str | int | float) and not isinstance(v, bool):
            out.append(v)
        else:
            raise QueryError("$skiptoken is not one this server gave out")
    return out


# -- building blocks -------------------------------------------------------------------


def _order(
    entity: EntitySet, orderby: Sequence[OrderBy], alias: str, params: Params, conn: Any
) -> Order:
    items: list[tuple[Typed, bool, str | None]] = []
    keyset = True
    for item in orderby:
        value = compile_value(item.expr, entity, alias, params, conn)
        name = None
        if isinstance(item.expr, Path) and len(item.expr.segments) == 1:
            prop = entity.prop(item.expr.segments[0])
            if prop is not None and prop.type in KEYSET_TYPES and not prop.nullable:
                name = prop.name
        if name is None:
            keyset = False
        items.append((value, item.descending, name))
    if not orderby:
        for name in entity.default_order:
            prop = entity.prop(name)
            assert prop is not None
            items.append((Typed(sql.Identifier(alias, prop.column), prop.type), False, name))
    if not any(name == "id" for _, _, name in items):
        items.append((Typed(sql.Identifier(alias, "id"), "id"), False, "id"))
    return Order(items, keyset)


def _order_sql(order: Order, alias_keys: bool, branch: bool = False) -> sql.Composable:
    parts = []
    for i, (value, descending, name) in enumerate(order.items):
        if alias_keys:
            expr: sql.Composable = sql.Identifier(f"__k{i}")
        elif branch and name == "id":
            # In one Observation branch the id order is the reading id order (indexed).
            expr = sql.SQL("e.reading_id")
        else:
            expr = value.sql
        direction = "DESC" if descending else "ASC"
        # Keyset columns are never null: no NULLS clause, so a descending order is an
        # index scanned backwards (DESC NULLS LAST would not match the index).
        if name is None:
            direction += " NULLS LAST"
        parts.append(sql.SQL("{} {}").format(expr, sql.SQL(direction)))
    return sql.SQL(", ").join(parts)


def _cast(kind: str) -> str:
    return {"id": "bigint", "number": "float8", "string": "text", "datetime": "timestamptz"}[kind]


def _keyset_condition(
    order: Order, after: list[Any], params: Params, observation_branch_ids: bool
) -> sql.Composable:
    if len(after) != len(order.items):
        raise QueryError("$skiptoken does not belong to this $orderby")
    ors = []
    for i, (value, descending, _) in enumerate(order.items):
        ands = []
        for j in range(i):
            prev, _, _ = order.items[j]
            ands.append(sql.SQL("{} = {}").format(prev.sql, params.add(after[j], _cast(prev.type))))
        op = sql.SQL("<" if descending else ">")
        ands.append(
            sql.SQL("{} {} {}").format(value.sql, op, params.add(after[i], _cast(value.type)))
        )
        ors.append(sql.SQL("({})").format(sql.SQL(" AND ").join(ands)))
    condition: sql.Composable = sql.SQL("({})").format(sql.SQL(" OR ").join(ors))
    first, descending, name = order.items[0]
    if name is not None:
        bound = params.add(after[0], _cast(first.type))
        op = sql.SQL("<=" if descending else ">=")
        if observation_branch_ids and name == "id" and isinstance(after[0], int):
            # The id's reading id, so the branch's index on reading_id bounds the scan.
            bound = params.add(after[0] // METRIC_STRIDE, "bigint")
            condition = sql.SQL("(e.reading_id {} {} AND {})").format(op, bound, condition)
        else:
            condition = sql.SQL("({} {} {} AND {})").format(first.sql, op, bound, condition)
    return condition


def _key_columns(order: Order) -> sql.Composable:
    return sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(value.sql, sql.Identifier(f"__k{i}"))
        for i, (value, _, _) in enumerate(order.items)
    )


def _conditions(
    req: ListRequest, params: Params, compiler: Compiler, alias: str = "e"
) -> list[sql.Composable]:
    conds: list[sql.Composable] = list(req.extra)
    if req.scope is not None:
        conds.append(
            sql.SQL("{} = {}").format(
                sql.Identifier(alias, req.scope.column), params.add(req.scope.value)
            )
        )
    if req.options.filter is not None:
        conds.append(compiler.predicate(req.options.filter, req.entity, alias))
    return conds


def _where(conds: list[sql.Composable]) -> sql.Composable:
    if not conds:
        return sql.SQL("")
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conds)


def _fetch(
    conn: psycopg.Connection[Any], query: sql.Composable, params: Params
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        # orjson parses the pages' jsonb columns several times faster than json.
        set_json_loads(orjson.loads, cur)
        cur.execute(sql.Composed([query]), params.values)
        return cur.fetchall()


def stream_scope(ds: dict[str, Any], params: Params) -> StreamScope:
    return StreamScope(
        datastream=params.add(ds["id"], "bigint"),
        pole=params.add(ds["pole_id"], "text"),
        connector=params.add(ds["connector_id"], "smallint"),
        thing=params.add(ds["thing_id"], "bigint"),
    )


def branch_of(ds: dict[str, Any], scope: StreamScope) -> sql.Composed:
    """The Observations source of one Datastream row (raw readings or a rollup)."""
    d = OBSERVED_PROPERTIES[ds["observed_property_id"]]
    kind = StreamKind(ds["kind"])
    if kind is StreamKind.RAW:
        return observation_branch(d, scope)
    return aggregate_branch(d, kind, scope)


def _observation_sources(req: ListRequest, params: Params) -> list[tuple[sql.Composable, bool]]:
    """(source, whether its ids are reading ids) per branch."""
    if req.streams is None:
        return [(observation_branch(d, None), True) for d in OBSERVED_PROPERTIES.values()]
    return [
        (branch_of(ds, stream_scope(ds, params)), ds["kind"] == StreamKind.RAW)
        for ds in req.streams
    ]


# -- lists -----------------------------------------------------------------------------


def list_page(conn: psycopg.Connection[Any], req: ListRequest) -> Page:
    params = Params()
    compiler = Compiler(params, conn)
    order = _order(req.entity, req.options.orderby, "e", params, conn)
    if req.after is not None and not order.keyset:
        raise QueryError("$skiptoken does not belong to this $orderby")
    limit = req.top + 1
    offset = 0 if req.after is not None else req.skip
    if req.entity.name == "Observations":
        branches = []
        for src, raw in _observation_sources(req, params):
            conds = _conditions(req, params, compiler)
            if req.after is not None:
                conds.append(_keyset_condition(order, req.after, params, raw))
            branches.append(
                sql.SQL(
                    "(SELECT e.*, {keys} FROM ({src}) e{where} ORDER BY {order} LIMIT {n})"
                ).format(
                    keys=_key_columns(order),
                    src=src,
                    where=_where(conds),
                    order=_order_sql(order, False, branch=True),
                    n=params.add(limit + offset, "bigint"),
                )
            )
        if not branches:
            rows: list[dict[str, Any]] = []
        else:
            query = sql.SQL("SELECT * FROM ({u}) u ORDER BY {order} LIMIT {n} OFFSET {o}").format(
                u=sql.SQL(" UNION ALL ").join(branches),
                order=_order_sql(order, True),
                n=params.add(limit, "bigint"),
                o=params.add(offset, "bigint"),
            )
            rows = _fetch(conn, query, params)
    else:
        conds = _conditions(req, params, compiler)
        if req.after is not None:
            conds.append(_keyset_condition(order, req.after, params, False))
        query = sql.SQL(
            "SELECT e.*, {keys} FROM ({src}) e{where} ORDER BY {order} LIMIT {n} OFFSET {o}"
        ).format(
            keys=_key_columns(order),
            src=source(req.entity.name),
            where=_where(conds),
            order=_order_sql(order, False),
            n=params.add(limit, "bigint"),
            o=params.add(offset, "bigint"),
        )
        rows = _fetch(conn, query, params)
    more = len(rows) > req.top
    rows = rows[: req.top]
    last = None
    if order.keyset and rows:
        last = [rows[-1][f"__k{i}"] for i in range(len(order.items))]
    page = Page(rows, more, last)
    if req.want_count:
        page.count = count(conn, req)
    return page


def count(conn: psycopg.Connection[Any], req: ListRequest) -> CountResult:
    """Exact from the rollups and small tables where they can answer; else
    counted under `count_timeout_ms`, and when that is not enough, the planner's
    estimate, marked as such."""
    if req.entity.name == "Observations" and req.options.filter is None and not req.extra:
        exact = _observation_count_from_rollups(conn, req.streams)
        if exact is not None:
            return CountResult(exact, True)
    params = Params()
    compiler = Compiler(params, conn)
    if req.entity.name == "Observations":
        parts = [
            sql.SQL("SELECT count(*) AS n FROM ({src}) e{where}").format(
                src=src, where=_where(_conditions(req, params, compiler))
            )
            for src, _ in _observation_sources(req, params)
        ]
        if not parts:
            return CountResult(0, True)
        query: sql.Composable = sql.SQL("SELECT coalesce(sum(n), 0)::bigint FROM ({}) c").format(
            sql.SQL(" UNION ALL ").join(parts)
        )
    else:
        query = sql.SQL("SELECT count(*) FROM ({src}) e{where}").format(
            src=source(req.entity.name), where=_where(_conditions(req, params, compiler))
        )
    try:
        with conn.transaction():
            conn.execute(
                "SELECT set_config('statement_timeout', %s, true)", (str(req.count_timeout_ms),)
            )
            row = conn.execute(sql.Composed([query]), params.values).fetchone()
        assert row is not None
        return CountResult(int(row[0]), True)
    except psycopg.errors.QueryCanceled:
        pass
    plan = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) {}").format(query), params.values).fetchone()
    estimate = 0
    if plan is not None:
        try:
            inner = plan[0][0]["Plan"]
            while inner.get("Plans") and inner.get("Node Type") in ("Aggregate", "Result"):
                inner = inner["Plans"][0]
            estimate = int(inner.get("Plan Rows", 0))
        except (KeyError, IndexError, TypeError, ValueError):
            estimate = 0
    return CountResult(estimate, False)


def _observation_count_from_rollups(
    conn: psycopg.Connection[Any], streams: list[dict[str, Any]] | None
) -> int | None:
    """The number of stored values, summed from the rollups' per-metric counts
    (kept by the writer in the transaction of the readings: exact)."""
    params = Params()
    parts = []
    if streams is None:
        for family, props in FAMILY_PROPERTIES.items():
            rollup = COUNT_ROLLUPS[family]
            total = sql.SQL(" + ").join(
                sql.SQL("coalesce(sum({}), 0)").format(sql.Identifier(f"{p.column}_count"))
                for p in props
            )
            parts.append(
                sql.SQL("SELECT {} AS n FROM {}").format(total, sql.Identifier(rollup.table))
            )
    else:
        for ds in streams:
            d = OBSERVED_PROPERTIES[ds["observed_property_id"]]
            if ds["kind"] != StreamKind.RAW:
                parts.append(
                    sql.SQL("SELECT count(*) AS n FROM ({}) b").format(
                        branch_of(ds, stream_scope(ds, params))
                    )
                )
                continue
            rollup = COUNT_ROLLUPS[d.family]
            connector = (
                sql.SQL(" AND connector_id = {}").format(params.add(ds["connector_id"], "smallint"))
                if rollup.per_connector
                else sql.SQL("")
            )
            parts.append(
                sql.SQL(
                    "SELECT coalesce(sum({c}), 0) AS n FROM {t} WHERE pole_id = {p}{conn}"
                ).format(
                    c=sql.Identifier(f"{d.column}_count"),
                    t=sql.Identifier(rollup.table),
                    p=params.add(ds["pole_id"], "text"),
                    conn=connector,
                )
            )
    if not parts:
        return 0
    row = conn.execute(
        sql.SQL("SELECT coalesce(sum(n), 0)::bigint FROM ({}) c").format(
            sql.SQL(" UNION ALL ").join(parts)
        ),
        params.values,
    ).fetchone()
    assert row is not None
    return int(row[0])


# -- single entities -----------------------------------------------------------------


def fetch_by_ids(
    conn: psycopg.Connection[Any], entity: EntitySet, ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """Rows by id; unknown ids are absent."""
    if not ids:
        return {}
    params = Params()
    if entity.name == "Observations":
        return _observations_by_id(conn, ids)
    if entity.name == "Datastreams":
        # Decode the ids: a page of Datastreams reads sta_streams by primary key.
        streams = sorted({k.stream_id for i in ids if (k := split_datastream_id(i)) is not None})
        extra: sql.Composable = sql.SQL(" AND e.stream_id = ANY({})").format(
            params.add(streams, "bigint[]")
        )
    else:
        extra = sql.SQL("")
    query = sql.SQL("SELECT e.* FROM ({src}) e WHERE e.id = ANY({ids}){extra}").format(
        src=source(entity.name), ids=params.add(list(ids), "bigint[]"), extra=extra
    )
    return {row["id"]: row for row in _fetch(conn, query, params)}


def _observations_by_id(
    conn: psycopg.Connection[Any], ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    aggregates = [(v, a) for v in ids if (a := split_aggregate_observation_id(v)) is not None]
    if aggregates:
        streams = fetch_by_ids(conn, SETS["Datastreams"], [ds for _, (ds, _) in aggregates])
        for value, (ds, start) in aggregates:
            stream = streams.get(ds)
            if stream is None or stream["kind"] == StreamKind.RAW:
                continue
            params = Params()
            query = sql.SQL("SELECT e.* FROM ({}) e WHERE e.phenomenon_time = {}").format(
                branch_of(stream, stream_scope(stream, params)), params.add(start, "timestamptz")
            )
            for row in _fetch(conn, query, params):
                if row["id"] == value:
                    out[value] = row
    by_slot: dict[int, list[int]] = {}
    for value in ids:
        parts = split_observation_id(value)
        if parts is not None and parts[1] in OBSERVED_PROPERTIES:
            by_slot.setdefault(parts[1], []).append(parts[0])
    if not by_slot:
        return out
    params = Params()
    branches = [
        sql.SQL("(SELECT e.* FROM ({src}) e WHERE e.reading_id = ANY({ids}))").format(
            src=observation_branch(OBSERVED_PROPERTIES[slot], None),
            ids=params.add(readings, "bigint[]"),
        )
        for slot, readings in by_slot.items()
    ]
    rows = _fetch(conn, sql.SQL(" UNION ALL ").join(branches), params)
    return out | {row["id"]: row for row in rows}


def datastream_times(
    conn: psycopg.Connection[Any], rows: Sequence[dict[str, Any]]
) -> dict[int, tuple[datetime, datetime]]:
    """phenomenonTime of Datastreams: from the stream's first reading (one index
    probe per stream) to its newest (the latest-reading table)."""
    streams: dict[tuple[str, str, int], list[int]] = {}
    for row in rows:
        streams.setdefault((row["family"], row["pole_id"], row["connector_id"]), []).append(
            row["id"]
        )
    if not streams:
        return {}
    params = Params()
    parts = []
    for family in {f for f, _, _ in streams}:
        keys = [k for k in streams if k[0] == family]
        spec = FAMILIES[Family(family)]
        connector = (
            sql.SQL(" AND r.connector_id = k.connector") if spec.has_connector else sql.SQL("")
        )
        latest_connector = (
            sql.SQL(" AND l.connector_id = k.connector") if spec.has_connector else sql.SQL("")
        )
        parts.append(
            sql.SQL(
                """SELECT {family}::text AS family, k.pole, k.connector, f.first,
       l.observed_at AS last
FROM unnest({poles}::text[], {connectors}::int2[]) AS k(pole, connector)
LEFT JOIN {latest} l ON l.pole_id = k.pole{latest_connector}
LEFT JOIN LATERAL (SELECT r.observed_at AS first FROM {table} r
                   WHERE r.pole_id = k.pole{connector} ORDER BY r.observed_at LIMIT 1) f ON true"""
            ).format(
                family=sql.Literal(family),
                poles=params.add([k[1] for k in keys]),
                connectors=params.add([k[2] for k in keys]),
                latest=sql.Identifier(LATEST_TABLES[Family(family)]),
                latest_connector=latest_connector,
                table=sql.Identifier(spec.table),
                connector=connector,
            )
        )
    out: dict[int, tuple[datetime, datetime]] = {}
    for row in _fetch(conn, sql.SQL(" UNION ALL ").join(parts), params):
        if row["first"] is None or row["last"] is None:
            continue
        for ds in streams.get((row["family"], row["pole"], row["connector"]), []):
            out[ds] = (row["first"], row["last"])
    return out


# -- expands ---------------------------------------------------------------------------


@dataclass
class Related:
    """What one expand found for one parent."""

    rows: list[dict[str, Any]]
    more: bool = False
    count: int | None = None


def expand_many(
    conn: psycopg.Connection[Any],
    entity: EntitySet,
    remote: str,
    keys: Sequence[Any],
    *,
    options: QueryOptions,
    top: int,
    parents: Sequence[dict[str, Any]] | None = None,
) -> dict[Any, Related]:
    """The related rows of each parent key, each parent's own page (`top`,
    $skip, $orderby, $filter), in ONE statement for the whole page of parents."""
    keys = list(dict.fromkeys(k for k in keys if k is not None))
    if not keys:
        return {}
    params = Params()
    compiler = Compiler(params, conn)
    order = _order(entity, options.orderby, "e", params, conn)
    skip = options.skip or 0
    limit = params.add(top + 1, "bigint")
    offset = params.add(skip, "bigint")
    statements: list[sql.Composable] = []
    filt = [compiler.predicate(options.filter, entity, "e")] if options.filter is not None else []
    if entity.name == "Observations" and remote == "datastream_id" and parents is not None:
        # Per Datastream: its reading table by primary key, grouped by metric.
        groups: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for ds in parents:
            groups.setdefault((ds["observed_property_id"], ds["kind"]), []).append(ds)
        for streams in groups.values():
            scope = StreamScope(
                datastream=sql.SQL("k.ds"),
                pole=sql.SQL("k.pole"),
                connector=sql.SQL("k.connector"),
                thing=sql.SQL("k.thing"),
            )
            statements.append(
                sql.SQL(
                    """SELECT k.ds AS __parent, x.* FROM unnest({ds}::bigint[], {poles}::text[],
    {connectors}::int2[], {things}::bigint[]) AS k(ds, pole, connector, thing)
CROSS JOIN LATERAL (SELECT e.*, {keys} FROM ({src}) e{where}
                    ORDER BY {order} LIMIT {limit} OFFSET {offset}) x"""
                ).format(
                    ds=params.add([s["id"] for s in streams]),
                    poles=params.add([s["pole_id"] for s in streams]),
                    connectors=params.add([s["connector_id"] for s in streams]),
                    things=params.add([s["thing_id"] for s in streams]),
                    keys=_key_columns(order),
                    src=branch_of(streams[0], scope),
                    where=_where(filt),
                    order=_order_sql(order, False),
                    limit=limit,
                    offset=offset,
                )
            )
    else:
        conds = [sql.SQL("e.{} = k.key").format(sql.Identifier(remote)), *filt]
        statements.append(
            sql.SQL(
                """SELECT k.key AS __parent, x.* FROM unnest({keys}::bigint[]) AS k(key)
CROSS JOIN LATERAL (SELECT e.*, {sort} FROM ({src}) e{where}
                    ORDER BY {order} LIMIT {limit} OFFSET {offset}) x"""
            ).format(
                keys=params.add(keys),
                sort=_key_columns(order),
                src=source(entity.name),
                where=_where(conds),
                order=_order_sql(order, False),
                limit=limit,
                offset=offset,
            )
        )
    rows = _fetch(conn, sql.SQL(" UNION ALL ").join(statements), params)
    out: dict[Any, Related] = {k: Related([]) for k in keys}
    for row in rows:
        related = out[row.pop("__parent")]
        if len(related.rows) < top:
            related.rows.append(row)
        else:
            related.more = True
    for related in out.values():
        related.rows.sort(key=lambda r: _sort_key(r, order))
    if options.count:
        counts = _expand_counts(conn, entity, remote, keys, options=options, parents=parents)
        for key, related in out.items():
            related.count = counts.get(key, 0)
    return out


def _sort_key(row: dict[str, Any], order: Order) -> Any:
    """The row's place in `order` (a parent's rows may come back from the UNION in
    any order; NULLs last as in the SQL)."""

    def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
        for i, (_, descending, _) in enumerate(order.items):
            x, y = a[f"__k{i}"], b[f"__k{i}"]
            if x == y:
                continue
            if x is None or y is None:
                return 1 if x is None else -1
            less = x < y
            return (1 if less else -1) if descending else (-1 if less else 1)
        return 0

    return functools.cmp_to_key(compare)(row)


def _expand_counts(
    conn: psycopg.Connection[Any],
    entity: EntitySet,
    remote: str,
    keys: Sequence[Any],
    *,
    options: QueryOptions,
    parents: Sequence[dict[str, Any]] | None,
) -> dict[Any, int]:
    if entity.name == "Observations" and remote == "datastream_id" and parents is not None:
        out = {}
        for ds in parents:
            req = ListRequest(entity, options, 0, streams=[ds])
            out[ds["id"]] = count(conn, req).value
        return out
    params = Params()
    compiler = Compiler(params, conn)
    conds: list[sql.Composable] = [
        sql.SQL("e.{} = ANY({})").format(sql.Identifier(remote), params.add(list(keys)))
    ]
    if options.filter is not None:
        conds.append(compiler.predicate(options.filter, entity, "e"))
    query = sql.SQL("SELECT e.{r} AS key, count(*) AS n FROM ({src}) e{where} GROUP BY 1").format(
        r=sql.Identifier(remote), src=source(entity.name), where=_where(conds)
    )
    return {row["key"]: int(row["n"]) for row in _fetch(conn, query, params)}


def expand_one(
    conn: psycopg.Connection[Any],
    entity: EntitySet,
    remote: str,
    keys: Sequence[Any],
    filter_node: Node | None,
) -> dict[Any, dict[str, Any]]:
    """The related row of each parent key (a to-one relation), one statement."""
    keys = list(dict.fromkeys(k for k in keys if k is not None))
    if not keys:
        return {}
    if remote == "id" and filter_node is None:
        return fetch_by_ids(conn, entity, keys)
    params = Params()
    compiler = Compiler(params, conn)
    conds: list[sql.Composable] = [
        sql.SQL("e.{} = ANY({})").format(sql.Identifier(remote), params.add(keys, "bigint[]"))
    ]
    if filter_node is not None:
        conds.append(compiler.predicate(filter_node, entity, "e"))
    query = sql.SQL("SELECT e.* FROM ({src}) e{where}").format(
        src=source(entity.name), where=_where(conds)
    )
    return {row[remote]: row for row in _fetch(conn, query, params)}


def check_expand(entity: EntitySet, expand: Expand) -> None:
    if entity.nav(expand.navigation) is None:
        raise QueryError(f"{entity.name} have no relation {expand.navigation!r}")


__all__ = [
    "SETS",
    "CountResult",
    "ListRequest",
    "NotImplementedQuery",
    "Page",
    "Related",
    "Scope",
    "count",
    "datastream_times",
    "decode_token",
    "encode_token",
    "expand_many",
    "expand_one",
    "fetch_by_ids",
    "list_page",
]
