-- TimescaleDB only: partition the hourly rollup by month so retention and
-- queries over long ranges touch few chunks. Not compressed: the writer
-- upserts into it, including for late data in old buckets.
SELECT create_hypertable('env_hourly', by_range('bucket', INTERVAL '30 days'), migrate_data => true);
