-- TimescaleDB only: the hourly Wi-Fi rollup is partitioned by month like
-- env_hourly (retention and long ranges touch few chunks), not compressed
-- (the writer upserts into it, late data included). The daily and group
-- rollups and the latest tables stay plain tables: one row per pole and day
-- (or per group and bucket), small enough that chunks would only add planning.
SELECT create_hypertable('wifi_hourly', by_range('bucket', INTERVAL '30 days'), migrate_data => true);
