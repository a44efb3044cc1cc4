"""The SQL every panel and alert rule runs, written against the smartpole schema.

Grafana runs these, not the API, so they live here as data (the API's SQL stays in
`storage/`). They use Grafana's macros so the time picker works: `$__timeFilter(col)`,
`$__timeFrom()`/`$__timeTo()`, `$__timeGroupAlias(col, $__interval)`, and the dashboard
variables `$district`, `$pole` (multi-value, quoted by Grafana) and `$tz` (a constant).

Speed on long ranges: fleet-wide environment panels read the hourly rollup `env_hourly`
(the panel's min interval is 1h, so `$__interval` never asks for less); per-pole panels
read raw rows for short ranges and switch to the rollup past `RAW_RANGE_LIMIT`.
"Current state" panels read the newest row per pole through the primary key
(`LATERAL ... ORDER BY observed_at DESC LIMIT 1`) instead of scanning a time range; those
about a pole's health read the `pole_health` view, which does the same and is the API's
judgement (`health.py`). Other families have no rollup: they aggregate raw rows inside
`$__timeFilter`.

One module per dashboard, `alerts.py` for the alert rules, `common.py` for what several
share. Table names, units, aggregation rules, status values, health constants and EU
limit values come from the domain catalogue through `dashboards.domain`; none is written
here (tests/dashboards/test_catalogue.py checks the generated SQL for that).

Every query works with both expansions of `$__timeGroup`: epoch seconds on plain
PostgreSQL, `time_bucket()` with the datasource's TimescaleDB option.
"""
