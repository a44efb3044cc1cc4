-- Core schema: pole registry, one wide typed table per metric family,
-- and the quarantine. Natural keys make every write idempotent: a reading
-- redelivered by the broker or resent by a pole hits ON CONFLICT DO NOTHING.

CREATE TABLE poles (
    pole_id           text PRIMARY KEY,
    name              text,
    district          text,
    latitude          double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude         double precision CHECK (longitude BETWEEN -180 AND 180),
    capabilities      text[] NOT NULL DEFAULT '{}',
    notes             text,
    -- platform clock: when a message of this pole arrived first / last
    first_seen        timestamptz,
    last_seen         timestamptz,
    -- device clock: newest dateObserved of any reading
    last_observed_at  timestamptz,
    status            text NOT NULL DEFAULT 'unknown'
                      CHECK (status IN ('online', 'offline', 'unknown')),
    status_since      timestamptz,
    firmware_version  text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX poles_district_idx ON poles (district);

CREATE TABLE env_readings (
    pole_id              text NOT NULL,
    observed_at          timestamptz NOT NULL,
    received_at          timestamptz NOT NULL,
    pm25                 real,   -- µg/m³
    pm10                 real,   -- µg/m³
    no2                  real,   -- µg/m³
    o3                   real,   -- µg/m³
    temperature          real,   -- °C
    relative_humidity    real,   -- %
    atmospheric_pressure real,   -- hPa
    laeq                 real,   -- dB(A)
    lamax                real,   -- dB(A)
    PRIMARY KEY (pole_id, observed_at)
);

CREATE TABLE light_readings (
    pole_id                    text NOT NULL,
    observed_at                timestamptz NOT NULL,
    received_at                timestamptz NOT NULL,
    power_state                text NOT NULL,      -- on | off | low (dimmed) | bootingUp
    illuminance_level          real,               -- 0..1
    active_power               real,               -- W
    total_active_energy_import double precision,   -- kWh meter
    lamp_status                text,               -- ok | defectiveLamp | columnIssue | brokenLantern
    PRIMARY KEY (pole_id, observed_at)
);

CREATE TABLE wifi_readings (
    pole_id           text NOT NULL,
    observed_at       timestamptz NOT NULL,
    received_at       timestamptz NOT NULL,
    status            text NOT NULL,               -- up | down | degraded
    connected_clients integer NOT NULL,
    bytes_in          bigint,                      -- counter since boot
    bytes_out         bigint,                      -- counter since boot
    PRIMARY KEY (pole_id, observed_at)
);

CREATE TABLE ev_readings (
    pole_id                    text NOT NULL,
    connector_id               smallint NOT NULL,
    observed_at                timestamptz NOT NULL,
    received_at                timestamptz NOT NULL,
    status                     text NOT NULL,      -- OCPP 1.6 ChargePointStatus
    error_code                 text NOT NULL,      -- OCPP 1.6 ChargePointErrorCode
    charging_power             real,               -- kW
    total_active_energy_import double precision,   -- kWh meter
    transaction_id             text,
    PRIMARY KEY (pole_id, connector_id, observed_at)
);

-- History of the retained status topic (and of last-wills firing).
CREATE TABLE status_events (
    pole_id          text NOT NULL,
    observed_at      timestamptz NOT NULL,   -- received_at when a last-will carried no time
    received_at      timestamptz NOT NULL,
    status           text NOT NULL,
    firmware_version text,
    PRIMARY KEY (pole_id, observed_at)
);

-- Every rejected message or array item, with the reason. Identical rejects
-- (same topic, bytes and array position) are counted, not repeated, so a
-- broker redelivery does not inflate the table.
CREATE TABLE quarantine (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at      timestamptz NOT NULL,
    last_received_at timestamptz NOT NULL,
    times_seen       integer NOT NULL DEFAULT 1,
    topic            text NOT NULL,
    pole_id          text,
    family           text,
    item_index       integer,
    reason           text NOT NULL,
    payload          bytea NOT NULL,
    payload_sha256   bytea NOT NULL,
    UNIQUE NULLS NOT DISTINCT (topic, payload_sha256, item_index)
);
CREATE INDEX quarantine_received_at_idx ON quarantine (received_at);
