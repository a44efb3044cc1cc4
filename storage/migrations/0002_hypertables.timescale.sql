-- TimescaleDB only: reading tables become hypertables (1-day chunks) with
-- native compression segmented by pole, so per-pole queries on old data
-- decompress one segment. Policies (compress after, retention) are applied
-- from settings on every `smartpole db migrate`, not frozen here.

SELECT create_hypertable('env_readings', by_range('observed_at', INTERVAL '1 day'), migrate_data => true);
SELECT create_hypertable('light_readings', by_range('observed_at', INTERVAL '1 day'), migrate_data => true);
SELECT create_hypertable('wifi_readings', by_range('observed_at', INTERVAL '1 day'), migrate_data => true);
SELECT create_hypertable('ev_readings', by_range('observed_at', INTERVAL '1 day'), migrate_data => true);
SELECT create_hypertable('status_events', by_range('observed_at', INTERVAL '7 days'), migrate_data => true);

ALTER TABLE env_readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'pole_id',
                              timescaledb.compress_orderby = 'observed_at DESC');
ALTER TABLE light_readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'pole_id',
                                timescaledb.compress_orderby = 'observed_at DESC');
ALTER TABLE wifi_readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'pole_id',
                               timescaledb.compress_orderby = 'observed_at DESC');
ALTER TABLE ev_readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'pole_id, connector_id',
                             timescaledb.compress_orderby = 'observed_at DESC');
ALTER TABLE status_events SET (timescaledb.compress, timescaledb.compress_segmentby = 'pole_id',
                               timescaledb.compress_orderby = 'observed_at DESC');
