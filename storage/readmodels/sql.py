"""The SQL of the read models, composed from their spec (storage/readmodels/spec.py).

Shared by the incremental path (the writer, from the rows one batch inserted)
and the rebuild (from everything stored): both build every measure with the
same expressions, so their results agree to the last bit of every count.

Measures between consecutive readings (a counter's increase, time in a state,
sessions started) are kept exact under late data with *edges*: an edge is a
pair of consecutive readings of one pole (connector) and carries the measure.
When a batch inserts readings, the edges of the merged sequence that touch a
new reading are added, and each old edge that now has new readings between its
ends is removed (sign -1). A sentinel before the first reading of each
sequence makes its first edge (nothing -> first reading) one like any other,
so a session starting at a sequence's first reading is counted, and moved when
an even earlier reading arrives. This needs every other writer's rows of the
sequence to be visible: the writer takes the pole's row of the latest table
first (see storage/readmodels/merge.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import sql

from models.catalogue.air_quality import STATISTICS_TIME_ZONE
from models.catalogue.families import CounterReset, FamilySpec, FieldSpec
from storage.readmodels.spec import (
    CITY,
    DISTRICT,
    HOUR_COVERAGE,
    INTERVALS_TABLE,
    LOCAL_ZONE_SETTING,
    NO_DISTRICT,
    PG_NAMES,
    SETTINGS_TABLE,
    Rollup,
    energy_sum_column,
    increase_column,
    over_column,
    state_column,
)

Q = sql.Identifier
SENTINEL = sql.SQL("'-infinity'::timestamptz")


def local_zone() -> sql.Composable:
    """The zone of local days, as recorded by `smartpole db migrate` (NULL before:
    a write then fails loudly on the NOT NULL bucket instead of guessing)."""
    return sql.SQL("(SELECT value FROM {} WHERE name = {})").format(
        Q(SETTINGS_TABLE), sql.Literal(LOCAL_ZONE_SETTING)
    )


def zone_of(rollup: Rollup) -> sql.Composable:
    if rollup.zone == "local":
        return local_zone()
    if rollup.zone == "statistics":
        return sql.Literal(STATISTICS_TIME_ZONE)
    return sql.Literal("UTC")


def bucket_of(rollup: Rollup, column: sql.Composable) -> sql.Composable:
    return sql.SQL("date_trunc({}, {}, {})").format(
        sql.Literal(rollup.grain), column, zone_of(rollup)
    )


def key_of(rollup: Rollup) -> tuple[str, ...]:
    """The sequence key of a per-pole rollup (without the bucket)."""
    return tuple(c for c in rollup.key_columns if c != "bucket")


def combine(rollup: Rollup, target: str = "t") -> sql.Composable:
    """The ON CONFLICT ... DO UPDATE SET list: sums add, extremes widen."""
    parts = []
    for column, _, how in rollup.measure_columns():
        c = Q(column)
        if how == "sum":
            parts.append(sql.SQL("{c} = {t}.{c} + EXCLUDED.{c}").format(c=c, t=Q(target)))
        else:
            function = "LEAST" if how == "min" else "GREATEST"
            parts.append(
                sql.SQL("{c} = {f}({t}.{c}, EXCLUDED.{c})").format(
                    c=c, f=sql.SQL(function), t=Q(target)
                )
            )
    return sql.SQL(", ").join(parts)


def aggregate_measures(
    rollup: Rollup, source: str, only: Sequence[str] | None = None
) -> sql.Composable:
    """sum/min/max of each measure column of `rollup`, read from `source`'s columns
    of the same name (0 / NULL for those not in `only`, when given)."""
    parts: list[sql.Composable] = []
    for column, _, how in rollup.measure_columns():
        if only is not None and column not in only:
            parts.append(sql.SQL("0" if how == "sum" else "NULL"))
            continue
        parts.append(sql.SQL("{}({}.{})").format(sql.SQL(how), Q(source), Q(column)))
    return sql.SQL(", ").join(parts)


def columns_list(names: Sequence[str], prefix: str | None = None) -> sql.Composable:
    if prefix is None:
        return sql.SQL(", ").join(map(Q, names))
    return sql.SQL(", ").join(Q(prefix, n) for n in names)


def upsert(rollup: Rollup, select: sql.Composable) -> sql.Composed:
    """INSERT `select` (key columns then measures, in table order) into `rollup`,
    in key order (one lock order for every writer), adding to existing buckets."""
    names = [c for c, _ in rollup.columns()]
    return sql.SQL(
        "INSERT INTO {table} AS t ({columns}) {select} ORDER BY {order} "
        "ON CONFLICT ({pk}) DO UPDATE SET {combine}"
    ).format(
        table=Q(rollup.table),
        columns=columns_list(names),
        select=select,
        order=sql.SQL(", ").join(sql.SQL(str(i + 1)) for i in _pk_positions(rollup)),
        pk=columns_list(rollup.primary_key),
        combine=combine(rollup),
    )


def _pk_positions(rollup: Rollup) -> list[int]:
    return [rollup.key_columns.index(c) for c in rollup.primary_key]


# --- per-reading measures -----------------------------------------------------------


def reading_measure_exprs(rollup: Rollup, alias: str) -> dict[str, sql.Composable]:
    """The additive measures of raw rows `alias`, as aggregates: count, sum, min,
    max (and the energy sum of sound levels), by measure column."""
    out: dict[str, sql.Composable] = {"readings": sql.SQL("count(*)")}
    for f in rollup.metrics:
        col = Q(alias, f.column)
        out[f"{f.column}_count"] = sql.SQL("count({})").format(col)
        # real sums lose digits: add in double precision
        out[f"{f.column}_sum"] = sql.SQL("coalesce(sum({}::float8), 0)").format(col)
        out[f"{f.column}_min"] = sql.SQL("min({})").format(col)
        out[f"{f.column}_max"] = sql.SQL("max({})").format(col)
        if f.energetic:
            out[energy_sum_column(f.column)] = sql.SQL(
                "coalesce(sum(power(10, {} / 10.0)), 0)"
            ).format(col)
    return out


def reading_measures(rollup: Rollup, alias: str) -> sql.Composable:
    """`reading_measure_exprs` as a select list, in the rollup's column order."""
    exprs = reading_measure_exprs(rollup, alias)
    return sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(exprs[c], Q(c))
        for c, _, _ in rollup.measure_columns()
        if c in exprs
    )


# --- valid hours (env days from env_hourly) ---------------------------------------------


def need_per_hour(spec: FamilySpec, pole: sql.Composable) -> sql.Composable:
    """Readings an hour needs to be valid: MIN_HOUR_COVERAGE of those expected at the
    pole's reporting interval (the catalogue's cadence unless reporting_intervals says)."""
    assert spec.expected_cadence is not None
    return sql.SQL(
        "greatest(1, ceil({coverage} * 3600.0 / coalesce((SELECT ri.interval_s FROM {intervals} ri"
        " WHERE ri.pole_id = {pole} AND ri.family = {family}), {cadence})))"
    ).format(
        coverage=sql.Literal(HOUR_COVERAGE),
        intervals=Q(INTERVALS_TABLE),
        pole=pole,
        family=sql.Literal(spec.family.value),
        cadence=sql.Literal(int(spec.expected_cadence.total_seconds())),
    )


def hour_value(f: FieldSpec, alias: str) -> sql.Composable:
    """An hour's mean from an env_hourly row (sound levels: its energy mean)."""
    total = energy_sum_column(f.column) if f.energetic else f"{f.column}_sum"
    return sql.SQL("({} / {})").format(Q(alias, total), Q(alias, f"{f.column}_count"))


def hour_valid(f: FieldSpec, alias: str, need: sql.Composable) -> sql.Composable:
    return sql.SQL("(coalesce({}, 0) >= {})").format(Q(alias, f"{f.column}_count"), need)


def valid_measures(
    day: Rollup, alias: str, need: sql.Composable, sign: str = ""
) -> list[sql.Composable]:
    """Per valid metric of `day`: valid hour (0/1), its mean (or 0), and 0/1 per
    threshold exceeded, for the env_hourly row `alias`."""
    out: list[sql.Composable] = []
    for f in day.valid_metrics:
        valid = hour_valid(f, alias, need)
        value = hour_value(f, alias)
        out.append(sql.SQL("{}{}::int").format(sql.SQL(sign), valid))
        out.append(sql.SQL("{}CASE WHEN {} THEN {} ELSE 0 END").format(sql.SQL(sign), valid, value))
        for threshold in day.thresholds(f):
            out.append(
                sql.SQL("{}({} AND {} > {})::int").format(
                    sql.SQL(sign), valid, value, sql.Literal(threshold)
                )
            )
    return out


def valid_names(day: Rollup) -> list[str]:
    out = []
    for f in day.valid_metrics:
        out += [f"{f.column}_valid_hours", f"{f.column}_valid_sum"]
        out += [over_column(f.column, v) for v in day.thresholds(f)]
    return out


def env_day_from_hours(day: Rollup, hours: str) -> sql.Composed:
    """SELECT of `day`'s rows from rows `hours` that have env_hourly's measures
    (as `h_<name>`) and the valid-hour measures (by name)."""
    measures = []
    for column, _, how in day.measure_columns():
        measures.append(sql.SQL("{}({})").format(sql.SQL(how), Q(hours, column)))
    return sql.SQL("SELECT {h}.pole_id, {bucket}, {measures} FROM {h} GROUP BY 1, 2").format(
        h=Q(hours), bucket=bucket_of(day, Q(hours, "bucket")), measures=sql.SQL(", ").join(measures)
    )


# --- edges -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EdgePass:
    """One sequence of a pole's (connector's) readings and the measures on its edges."""

    condition: sql.Composable  # which readings the sequence has
    values: tuple[str, ...]  # the columns the measures read, of both ends
    counters: tuple[FieldSpec, ...] = ()
    state_times: bool = False
    sessions: bool = False


def edge_passes(rollup: Rollup) -> list[EdgePass]:
    spec = rollup.spec
    passes = [
        EdgePass(sql.SQL("{} IS NOT NULL").format(Q(f.column)), (f.column,), counters=(f,))
        for f in rollup.counters
    ]
    values = tuple(s.field for s in spec.state_times)
    if spec.session_field:
        values += (spec.session_field,)
    if values:
        passes.append(
            EdgePass(
                sql.SQL("true"),
                tuple(dict.fromkeys(values)),
                state_times=bool(spec.state_times),
                sessions=spec.session_field is not None,
            )
        )
    return passes


def _counter_increase(f: FieldSpec) -> sql.Composable:
    a, b = Q(f"a_{f.column}"), Q(f"b_{f.column}")
    if f.counter_reset is CounterReset.RESTART:
        return sql.SQL(
            "CASE WHEN a_t = {s} THEN 0 WHEN {b} < {a} THEN {b} ELSE {b} - {a} END"
        ).format(a=a, b=b, s=SENTINEL)
    return sql.SQL("CASE WHEN a_t = {s} THEN 0 ELSE greatest({b} - {a}, 0) END").format(
        a=a, b=b, s=SENTINEL
    )


def edge_credits(rollup: Rollup, p: EdgePass, edges: str) -> list[sql.Composable]:
    """SELECTs of (key, bucket, every measure) from the edges `edges`: measures of
    the later reading's bucket, and time in state in the earlier reading's."""
    spec = rollup.spec
    keys = key_of(rollup)
    names = [c for c, _, _ in rollup.measure_columns()]
    later: dict[str, sql.Composable] = {}
    for f in p.counters:
        later[increase_column(f.column)] = _counter_increase(f)
    if p.sessions and spec.session_field:
        tx_a, tx_b = Q(f"a_{spec.session_field}"), Q(f"b_{spec.session_field}")
        later["sessions"] = sql.SQL(
            "CASE WHEN {b} IS NOT NULL AND {b} IS DISTINCT FROM {a} THEN 1 ELSE 0 END"
        ).format(a=tx_a, b=tx_b)
    earlier: dict[str, sql.Composable] = {}
    if p.state_times:
        for s in spec.state_times:
            earlier[state_column(s.name)] = sql.SQL(
                "CASE WHEN {a} IN ({states}) THEN extract(epoch FROM least(b_t - a_t, {hold}))"
                "::float8 ELSE 0 END"
            ).format(
                a=Q(f"a_{s.field}"),
                states=sql.SQL(", ").join(sql.Literal(v) for v in sorted(s.states)),
                hold=sql.Literal(s.holds_for),
            )
    selects: list[sql.Composable] = []
    for side, measures in (("b_t", later), ("a_t", earlier)):
        if not measures:
            continue
        cols: list[sql.Composable] = []
        for name in names:
            how = next(h for c, _, h in rollup.measure_columns() if c == name)
            if name in measures:
                cols.append(sql.SQL("sum(sign * ({}))").format(measures[name]))
            else:
                cols.append(sql.SQL("0" if how == "sum" else "NULL"))
        where = sql.SQL("WHERE a_t > {}").format(SENTINEL) if side == "a_t" else sql.SQL("")
        selects.append(
            sql.SQL(
                "SELECT {keys}, {bucket} AS bucket, {cols} FROM {e} {where} GROUP BY {g}"
            ).format(
                keys=columns_list(keys),
                bucket=bucket_of(rollup, Q(side)),
                cols=sql.SQL(", ").join(cols),
                e=Q(edges),
                where=where,
                g=sql.SQL(", ").join(sql.SQL(str(i + 1)) for i in range(len(keys) + 1)),
            )
        )
    return selects


def incremental_edges(
    rollup: Rollup, p: EdgePass, index: int, fresh: str, raw: str
) -> sql.Composed:
    """CTEs `e<index>`: the edges to add (+1) and remove (-1) for the rows `fresh`
    just inserted into `raw` (which holds them and every committed row)."""
    keys = key_of(rollup)
    vals = p.values
    n, s, q, o, e = (f"{x}{index}" for x in ("n", "s", "q", "o", "e"))
    match = sql.SQL(" AND ").join(sql.SQL("r.{c} = n.{c}").format(c=Q(k)) for k in keys)
    return sql.SQL(
        """{n} AS (SELECT {keys}, observed_at, {vals} FROM {fresh} WHERE {cond}),
{s} AS (
    SELECT DISTINCT ON ({keys}, observed_at) * FROM (
        SELECT {keys}, observed_at, {vals}, true AS new FROM {n}
        UNION ALL
        SELECT DISTINCT {keys}, {sentinel}, {typed_nulls}, false FROM {n}
        UNION ALL
        SELECT {n_keys}, p.observed_at, {p_vals}, false FROM {n} n CROSS JOIN LATERAL (
            SELECT r.observed_at, {r_vals} FROM {raw} r
            WHERE {match} AND r.observed_at < n.observed_at AND {r_cond}
            ORDER BY r.observed_at DESC LIMIT 1) p
        UNION ALL
        SELECT {n_keys}, p.observed_at, {p_vals}, false FROM {n} n CROSS JOIN LATERAL (
            SELECT r.observed_at, {r_vals} FROM {raw} r
            WHERE {match} AND r.observed_at > n.observed_at AND {r_cond}
            ORDER BY r.observed_at LIMIT 1) p
    ) u ORDER BY {keys}, observed_at, new DESC
),
{q} AS (
    SELECT *, lag(observed_at) OVER w AS a_t, {lag_vals}, lag(new) OVER w AS a_new,
           count(*) FILTER (WHERE new) OVER w AS news
    FROM {s} WINDOW w AS (PARTITION BY {keys} ORDER BY observed_at)
),
{o} AS (
    SELECT *, lag(observed_at) OVER w AS a2_t, {lag2_vals}, lag(news) OVER w AS a_news
    FROM {q} WHERE NOT new WINDOW w AS (PARTITION BY {keys} ORDER BY observed_at)
),
{e} AS (
    SELECT {keys}, a_t, {a_vals}, observed_at AS b_t, {b_vals}, 1 AS sign
    FROM {q} WHERE a_t IS NOT NULL AND (new OR a_new)
    UNION ALL
    SELECT {keys}, a2_t, {a2_vals}, observed_at, {vals}, -1
    FROM {o} WHERE a2_t IS NOT NULL AND news > a_news
)"""
    ).format(
        n=Q(n), s=Q(s), q=Q(q), o=Q(o), e=Q(e),
        keys=columns_list(keys),
        vals=columns_list(vals),
        fresh=Q(fresh),
        raw=Q(raw),
        cond=p.condition,
        r_cond=_qualified_condition(p, "r"),
        sentinel=SENTINEL,
        typed_nulls=_typed_nulls(rollup, vals),
        n_keys=columns_list(keys, "n"),
        p_vals=columns_list(vals, "p"),
        r_vals=columns_list(vals, "r"),
        match=match,
        lag_vals=sql.SQL(", ").join(
            sql.SQL("lag({v}) OVER w AS {a}").format(v=Q(v), a=Q(f"a_{v}")) for v in vals
        ),
        lag2_vals=sql.SQL(", ").join(
            sql.SQL("lag({v}) OVER w AS {a}").format(v=Q(v), a=Q(f"a2_{v}")) for v in vals
        ),
        a_vals=columns_list([f"a_{v}" for v in vals]),
        a2_vals=sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(Q(f"a2_{v}"), Q(f"a_{v}")) for v in vals
        ),
        b_vals=sql.SQL(", ").join(sql.SQL("{} AS {}").format(Q(v), Q(f"b_{v}")) for v in vals),
    )  # fmt: skip


def rebuild_edges(rollup: Rollup, p: EdgePass, index: int, raw: str) -> sql.Composed:
    """CTE `e<index>`: every edge of every stored sequence (the first from the sentinel)."""
    keys = key_of(rollup)
    vals = p.values
    return sql.SQL(
        """{e} AS (
    SELECT {keys}, coalesce(lag(observed_at) OVER w, {sentinel}) AS a_t, {lag_vals},
           observed_at AS b_t, {b_vals}, 1 AS sign
    FROM {raw} WHERE {cond} WINDOW w AS (PARTITION BY {keys} ORDER BY observed_at)
)"""
    ).format(
        e=Q(f"e{index}"),
        keys=columns_list(keys),
        sentinel=SENTINEL,
        lag_vals=sql.SQL(", ").join(
            sql.SQL("lag({v}) OVER w AS {a}").format(v=Q(v), a=Q(f"a_{v}")) for v in vals
        ),
        b_vals=sql.SQL(", ").join(sql.SQL("{} AS {}").format(Q(v), Q(f"b_{v}")) for v in vals),
        raw=Q(raw),
        cond=p.condition,
    )


def _qualified_condition(p: EdgePass, alias: str) -> sql.Composable:
    # The conditions are "<column> IS NOT NULL" or "true"; qualify the column.
    if p.counters:
        return sql.SQL("{} IS NOT NULL").format(Q(alias, p.counters[0].column))
    return sql.SQL("true")


def _typed_nulls(rollup: Rollup, values: Sequence[str]) -> sql.Composable:
    types = {f.column: PG_NAMES[f.pg_type] for f in rollup.spec.fields}
    return sql.SQL(", ").join(sql.SQL("NULL::{}").format(sql.SQL(types[v])) for v in values)


def rollup_rows(rollup: Rollup, sources: list[sql.Composable]) -> sql.Composed:
    """SELECT key, bucket, measures: the per-bucket totals of the union of `sources`
    (each a SELECT of key, bucket and every measure)."""
    keys = key_of(rollup)
    return sql.SQL("SELECT {keys}, bucket, {measures} FROM ({union}) x GROUP BY {g}").format(
        keys=columns_list(keys),
        measures=aggregate_measures(rollup, "x"),
        union=sql.SQL(" UNION ALL ").join(sources),
        g=sql.SQL(", ").join(sql.SQL(str(i + 1)) for i in range(len(keys) + 1)),
    )


def reading_source(rollup: Rollup, table: str) -> sql.Composed:
    """SELECT key, bucket, every measure (in column order) from the raw rows of
    `table`, grouped: the readings' own measures, 0 or NULL for the edge ones."""
    keys = key_of(rollup)
    exprs = reading_measure_exprs(rollup, "r")
    parts = []
    for column, _, how in rollup.measure_columns():
        value = exprs.get(column, sql.SQL("0" if how == "sum" else "NULL"))
        parts.append(sql.SQL("{} AS {}").format(value, Q(column)))
    return sql.SQL("SELECT {keys}, {bucket} AS bucket, {parts} FROM {table} r GROUP BY {g}").format(
        keys=columns_list(keys, "r"),
        bucket=bucket_of(rollup, sql.SQL("r.observed_at")),
        parts=sql.SQL(", ").join(parts),
        table=Q(table),
        g=sql.SQL(", ").join(sql.SQL(str(i + 1)) for i in range(len(keys) + 1)),
    )


# --- groups ------------------------------------------------------------------------------


def group_rows(group: Rollup, source: Rollup, table: str) -> sql.Composed:
    """SELECT of `group`'s rows (city and district) from per-pole rows `table`
    shaped like `source` (a delta table, or the per-pole rollup itself)."""
    measures = []
    names = {c for c, _, _ in source.measure_columns()}
    for column, _, how in group.measure_columns():
        assert column in names, f"{group.table}.{column} has no source in {source.table}"
        measures.append(sql.SQL("{}(d.{})").format(sql.SQL(how), Q(column)))
    bucket = (
        sql.SQL("d.bucket")
        if group.grain == source.grain
        else bucket_of(group, sql.SQL("d.bucket"))
    )
    return sql.SQL(
        "SELECT k.kind, k.key, {bucket}, {measures} FROM {table} d "
        "JOIN poles p ON p.pole_id = d.pole_id "
        "CROSS JOIN LATERAL (VALUES ({city}, {city}), ({district}, coalesce(p.district, {none})))"
        " AS k(kind, key) GROUP BY 1, 2, 3"
    ).format(
        bucket=bucket,
        measures=sql.SQL(", ").join(measures),
        table=Q(table),
        city=sql.Literal(CITY),
        district=sql.Literal(DISTRICT),
        none=sql.Literal(NO_DISTRICT),
    )
