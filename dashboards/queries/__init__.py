"""The SQL every panel and alert rule runs, written against the smartpole schema.

Grafana runs these, not the API, so they live here as data (the API's SQL stays in
`storage/`). They use Grafana's macros so the time picker works: `$__timeFilter(col)`,
`$__timeFrom()`/`$__timeTo()`, `$__timeGroupAlias(col, $__interval)`, and the dashboard
variables `$district`, `$pole` (multi-value, quoted by Grafana) and `$tz` (a constant).

Speed on long ranges: fleet-wide environment panels read the hourly rollup `env_hourly`
(the panel's min interval is 1h, so `$__interval` never asks for less); per-pole panels
read raw rows for short ranges and switch to the rollup past `RAW_RANGE_LIMIT`.
"Current state" panels read the newest row per pole through the primary key
(`LATERAL ... ORDER BY observed_at DESC LIMIT 1`) instead of scanning a time range.
Other families have no rollup: they aggregate raw rows inside `$__timeFilter`.

Every query works with both expansions of `$__timeGroup`: epoch seconds on plain
PostgreSQL, `time_bucket()` with the datasource's TimescaleDB option.
"""
