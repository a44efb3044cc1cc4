-- Stable integer ids for the OGC SensorThings facade (/sta/v1.1; the scheme:
-- models/sensorthings/ids.py). Every id stays below 2^53 (JavaScript clients
-- build URLs and MQTT topics from them) and survives restarts and re-runs of
-- `smartpole db migrate`, because each is stored, never recomputed from an order.
--
-- Thing (= pole) ids: a small identity per pole, given when the pole is
-- first inserted (by the inventory import, the admin API or the ingest writer).
CREATE TABLE sta_things (
    thing_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pole_id   text NOT NULL UNIQUE
);
INSERT INTO sta_things (pole_id) SELECT pole_id FROM poles ORDER BY created_at, pole_id;

CREATE FUNCTION sta_register_thing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sta_things (pole_id) VALUES (NEW.pole_id) ON CONFLICT (pole_id) DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER poles_sta_thing AFTER INSERT ON poles
    FOR EACH ROW EXECUTE FUNCTION sta_register_thing();

-- A stream is what one pole (one connector) publishes of one family; each of the
-- family's metrics is a Datastream of it (Datastream id = stream id and metric
-- slot, models/sensorthings/ids.py). A stream is created by the first reading
-- that creates the pole's (connector's) row in the latest-reading table, so a
-- Datastream exists once it has an observation.
CREATE TABLE sta_streams (
    stream_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pole_id       text NOT NULL,
    family        text NOT NULL,
    connector_id  smallint NOT NULL DEFAULT 0,  -- 0: a family without connectors
    UNIQUE (pole_id, family, connector_id)
);
CREATE INDEX sta_streams_family_idx ON sta_streams (family, stream_id);

CREATE FUNCTION sta_register_stream() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sta_streams (pole_id, family, connector_id)
    VALUES (NEW.pole_id, TG_ARGV[0], coalesce((to_jsonb(NEW) ->> 'connector_id')::smallint, 0))
    ON CONFLICT (pole_id, family, connector_id) DO NOTHING;
    RETURN NULL;
END $$;

INSERT INTO sta_streams (pole_id, family) SELECT pole_id, 'env' FROM env_latest ORDER BY pole_id;
INSERT INTO sta_streams (pole_id, family) SELECT pole_id, 'light' FROM light_latest ORDER BY pole_id;
INSERT INTO sta_streams (pole_id, family) SELECT pole_id, 'wifi' FROM wifi_latest ORDER BY pole_id;
INSERT INTO sta_streams (pole_id, family, connector_id)
    SELECT pole_id, 'ev', connector_id FROM ev_latest ORDER BY pole_id, connector_id;
CREATE TRIGGER env_latest_sta_stream AFTER INSERT ON env_latest
    FOR EACH ROW EXECUTE FUNCTION sta_register_stream('env');
CREATE TRIGGER light_latest_sta_stream AFTER INSERT ON light_latest
    FOR EACH ROW EXECUTE FUNCTION sta_register_stream('light');
CREATE TRIGGER wifi_latest_sta_stream AFTER INSERT ON wifi_latest
    FOR EACH ROW EXECUTE FUNCTION sta_register_stream('wifi');
CREATE TRIGGER ev_latest_sta_stream AFTER INSERT ON ev_latest
    FOR EACH ROW EXECUTE FUNCTION sta_register_stream('ev');

-- Observation ids: one bigint per reading row (shared by the reading tables, so a
-- number names one row of one table), times the metric slot. The column is
-- filled by its default: the writer names its columns in every INSERT and keeps
-- it out of its COPY layout. Added without a default first, then given one, so
-- that a hypertable with compression enabled accepts it; rows stored before get
-- theirs from the backfill below (in device-time order).
CREATE SEQUENCE reading_id_seq AS bigint;
ALTER TABLE env_readings ADD COLUMN reading_id bigint;
ALTER TABLE env_readings ALTER COLUMN reading_id SET DEFAULT nextval('reading_id_seq');
UPDATE env_readings r SET reading_id = n.id
    FROM (SELECT pole_id, observed_at, nextval('reading_id_seq') AS id
          FROM (SELECT pole_id, observed_at FROM env_readings ORDER BY observed_at, pole_id) o) n
    WHERE r.pole_id = n.pole_id AND r.observed_at = n.observed_at;
CREATE INDEX env_readings_reading_id_idx ON env_readings (reading_id);

ALTER TABLE light_readings ADD COLUMN reading_id bigint;
ALTER TABLE light_readings ALTER COLUMN reading_id SET DEFAULT nextval('reading_id_seq');
UPDATE light_readings r SET reading_id = n.id
    FROM (SELECT pole_id, observed_at, nextval('reading_id_seq') AS id
          FROM (SELECT pole_id, observed_at FROM light_readings ORDER BY observed_at, pole_id) o) n
    WHERE r.pole_id = n.pole_id AND r.observed_at = n.observed_at;
CREATE INDEX light_readings_reading_id_idx ON light_readings (reading_id);

ALTER TABLE wifi_readings ADD COLUMN reading_id bigint;
ALTER TABLE wifi_readings ALTER COLUMN reading_id SET DEFAULT nextval('reading_id_seq');
UPDATE wifi_readings r SET reading_id = n.id
    FROM (SELECT pole_id, observed_at, nextval('reading_id_seq') AS id
          FROM (SELECT pole_id, observed_at FROM wifi_readings ORDER BY observed_at, pole_id) o) n
    WHERE r.pole_id = n.pole_id AND r.observed_at = n.observed_at;
CREATE INDEX wifi_readings_reading_id_idx ON wifi_readings (reading_id);

ALTER TABLE ev_readings ADD COLUMN reading_id bigint;
ALTER TABLE ev_readings ALTER COLUMN reading_id SET DEFAULT nextval('reading_id_seq');
UPDATE ev_readings r SET reading_id = n.id
    FROM (SELECT pole_id, connector_id, observed_at, nextval('reading_id_seq') AS id
          FROM (SELECT pole_id, connector_id, observed_at FROM ev_readings
                ORDER BY observed_at, pole_id, connector_id) o) n
    WHERE r.pole_id = n.pole_id AND r.connector_id = n.connector_id
      AND r.observed_at = n.observed_at;
CREATE INDEX ev_readings_reading_id_idx ON ev_readings (reading_id);
