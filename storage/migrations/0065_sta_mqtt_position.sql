-- The SensorThings MQTT publisher's place in the change feed (sta_mqtt,
-- storage/sta_publication.py): the last feed position (storage/change_feed.py)
-- of which every observation was acknowledged by the broker. A publisher
-- restarted after a crash resumes after it and publishes again what it had
-- sent without the broker's acknowledgement: at least once, never lost.
-- One row per publisher name, so a second publisher (another broker) keeps its own.
CREATE TABLE sta_mqtt_position (
    publisher   text PRIMARY KEY,
    xid         bigint NOT NULL,
    seq         bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
