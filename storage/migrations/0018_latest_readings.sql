-- The newest reading (by device time) of each pole and family, and of each EV
-- connector: one row each, kept by the ingest writer in the transaction that
-- stores the reading (storage/readmodels/merge.py). A late backlog never
-- replaces a newer row. "Latest of the whole city" and the pole_health view
-- read one row per pole instead of probing the raw tables.
-- Filled from the raw rows already stored, so an upgrade loses nothing. Rows are
-- updated in place all day: half-empty pages let those be HOT updates (no index
-- entry per update).
CREATE TABLE env_latest (LIKE env_readings, PRIMARY KEY (pole_id)) WITH (fillfactor = 50);
INSERT INTO env_latest SELECT DISTINCT ON (pole_id) * FROM env_readings ORDER BY pole_id DESC, observed_at DESC;
CREATE TABLE light_latest (LIKE light_readings, PRIMARY KEY (pole_id)) WITH (fillfactor = 50);
INSERT INTO light_latest SELECT DISTINCT ON (pole_id) * FROM light_readings ORDER BY pole_id DESC, observed_at DESC;
CREATE TABLE wifi_latest (LIKE wifi_readings, PRIMARY KEY (pole_id)) WITH (fillfactor = 50);
INSERT INTO wifi_latest SELECT DISTINCT ON (pole_id) * FROM wifi_readings ORDER BY pole_id DESC, observed_at DESC;
CREATE TABLE ev_latest (LIKE ev_readings, PRIMARY KEY (pole_id, connector_id)) WITH (fillfactor = 50);
INSERT INTO ev_latest SELECT DISTINCT ON (pole_id, connector_id) * FROM ev_readings ORDER BY pole_id DESC, connector_id DESC, observed_at DESC;
