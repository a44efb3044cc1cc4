"""The hourly env rollup, kept up to date by the writer.

Raw readings are insert-only (duplicates are dropped, never updated), so the
rollup can be maintained incrementally and exactly: the rows a merge actually
inserted are summed per (pole, UTC hour) and added to the bucket. A late
reading lands in its own, older bucket; a duplicate adds nothing.
"""

from __future__ import annotations

from psycopg import sql

from models.catalogue.families import ENV, ENV_METRICS
from storage.tables import ENV_HOURLY_TABLE

# Logarithmic metrics (dB) also keep the sum of their energies, 10^(L/10).
ENERGY_SUM_METRICS = tuple(f.column for f in ENV.metrics if f.energetic)


def energy_sum_column(metric: str) -> str:
    return f"{metric}_energy_sum"


def _merge_env_with_rollup_sql() -> sql.Composed:
    """INSERT the staged env rows and fold the new ones into env_hourly; yields the count."""
    select_parts: list[sql.Composable] = [sql.SQL("count(*)")]
    insert_cols: list[sql.Composable] = [sql.Identifier("readings")]
    update_parts: list[sql.Composable] = [sql.SQL("readings = h.readings + EXCLUDED.readings")]
    for metric in ENV_METRICS:
        col = sql.Identifier(metric)
        count_c, sum_c, min_c, max_c = (
            sql.Identifier(f"{metric}_{part}") for part in ("count", "sum", "min", "max")
        )
        insert_cols += [count_c, sum_c, min_c, max_c]
        select_parts += [
            sql.SQL("count({})").format(col),
            sql.SQL("coalesce(sum({}::float8), 0)").format(col),  # real sums lose digits
            sql.SQL("min({})").format(col),
            sql.SQL("max({})").format(col),
        ]
        update_parts += [
            sql.SQL("{c} = h.{c} + EXCLUDED.{c}").format(c=count_c),
            sql.SQL("{c} = h.{c} + EXCLUDED.{c}").format(c=sum_c),
            # LEAST/GREATEST skip NULLs: an hour's first pm25 value sets the bound.
            sql.SQL("{c} = LEAST(h.{c}, EXCLUDED.{c})").format(c=min_c),
            sql.SQL("{c} = GREATEST(h.{c}, EXCLUDED.{c})").format(c=max_c),
        ]
    for metric in ENERGY_SUM_METRICS:
        energy = sql.Identifier(energy_sum_column(metric))
        insert_cols.append(energy)
        select_parts.append(
            sql.SQL("coalesce(sum(power(10, {} / 10.0)), 0)").format(sql.Identifier(metric))
        )
        update_parts.append(sql.SQL("{c} = h.{c} + EXCLUDED.{c}").format(c=energy))

    columns = sql.SQL(", ").join(
        sql.Identifier(c) for c in ("pole_id", "observed_at", "received_at", *ENV_METRICS)
    )
    return sql.SQL(
        """
        WITH inserted AS (
            INSERT INTO env_readings ({columns})
            SELECT {columns} FROM stage_env_readings
            ON CONFLICT DO NOTHING
            RETURNING *
        ), rolled AS (
            INSERT INTO {rollup} AS h (pole_id, bucket, {insert_cols})
            SELECT pole_id, date_trunc('hour', observed_at, 'UTC'), {select_parts}
            FROM inserted
            GROUP BY 1, 2
            ORDER BY 1, 2  -- one lock order for every worker: no deadlocks
            ON CONFLICT (pole_id, bucket) DO UPDATE SET {update_parts}
        )
        SELECT count(*) FROM inserted
        """
    ).format(
        columns=columns,
        rollup=sql.Identifier(ENV_HOURLY_TABLE),
        insert_cols=sql.SQL(", ").join(insert_cols),
        select_parts=sql.SQL(", ").join(select_parts),
        update_parts=sql.SQL(", ").join(update_parts),
    )


MERGE_ENV_WITH_ROLLUP = _merge_env_with_rollup_sql()
