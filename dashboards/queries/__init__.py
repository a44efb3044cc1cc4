"""The SQL every panel and alert rule runs, written against the smartpole schema.

Grafana runs these, not the API, so they live here as data (the API's SQL stays in
`storage/`). They use Grafana's macros so the time picker works: `$__timeFilter(col)`,
`$__timeFrom()`/`$__timeTo()`, `$__timeGroupAlias(col, $__interval)`, and the dashboard
variables `$district`, `$pole` (multi-value, quoted by Grafana) and `$tz` (a constant).

Speed on long ranges: panels read the read models the ingest writer keeps
(storage/readmodels/spec.py). District and city aggregates read the group rollups
(`env_hourly_group`, `ev_daily_group`, `light_daily_group`, `wifi_hourly_group`) while
every pole of the picked districts is picked; per-pole panels read raw rows up to
`RAW_RANGE_LIMIT` and the hourly or daily rollups beyond (per-pole environment series:
hourly up to `HOURLY_RANGE_LIMIT`, daily beyond); per-local-day panels read the daily
rollups when `$tz` is the zone they were built in. Each switch is a UNION ALL whose
branches are guarded by constant tests (`dashboards.queries.common`), so PostgreSQL runs
one branch only. "Current state" panels read the latest tables (one row per pole or
connector); those about a pole's health read the `pole_health` view, the API's
judgement (`health.py`). A few panels have no read model for what they show (dimming of
burning lamps, day burners, EV faults by error code, the Pole detail's timelines) and
aggregate raw rows inside `$__timeFilter`.

One module per dashboard, `alerts.py` for the alert rules, `common.py` for what several
share. Table names, units, aggregation rules, status values, health constants and EU
limit values come from the domain catalogue through `dashboards.domain`; none is written
here (tests/dashboards/test_catalogue.py checks the generated SQL for that).

Every query works with both expansions of `$__timeGroup`: epoch seconds on plain
PostgreSQL, `time_bucket()` with the datasource's TimescaleDB option.
"""
