-- The pole inventory (the city's asset register): the equipment and ratings
-- of each pole, its charging connectors, retirement, and the history of every
-- change an operator made to a pole's registry entry.
-- Field meanings: models/catalogue/registry.py.

ALTER TABLE poles
    -- the city's own asset number ("Mast 12/345"); not a pole id
    ADD COLUMN asset_id text,
    -- double precision, not real: a value read back must equal the value
    -- imported, or every re-import would report a change
    ADD COLUMN lamp_rated_power_w double precision CHECK (lamp_rated_power_w > 0),
    ADD COLUMN commissioned_on date,
    -- free-form properties: `properties` are public (open-data API),
    -- `internal_properties` are never shown by the API
    ADD COLUMN properties jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(properties) = 'object'),
    ADD COLUMN internal_properties jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(internal_properties) = 'object'),
    -- retired: kept (history, old readings), hidden from current lists, and
    -- messages received afterwards are quarantined
    ADD COLUMN decommissioned_at timestamptz;

-- An asset number names one current pole; a retired pole's number may be reused.
CREATE UNIQUE INDEX poles_asset_id_key ON poles (asset_id)
    WHERE asset_id IS NOT NULL AND decommissioned_at IS NULL;
-- The writer looks up the retired poles once per batch.
CREATE INDEX poles_decommissioned_idx ON poles (pole_id) WHERE decommissioned_at IS NOT NULL;

-- The charging connectors a pole has installed (what the registry says; the
-- OCPP status of each comes from ev_readings).
CREATE TABLE pole_connectors (
    pole_id       text NOT NULL REFERENCES poles (pole_id) ON DELETE CASCADE,
    connector_id  smallint NOT NULL CHECK (connector_id BETWEEN 1 AND 99),
    max_power_kw  double precision CHECK (max_power_kw > 0),
    plug_type     text,
    PRIMARY KEY (pole_id, connector_id)
);

-- Every change of a pole's registry entry: who (the CLI user, the admin key,
-- `smartpole up`), through what (an import file with its digest, the admin
-- API, a decommission), when, and each changed field's old and new value.
-- No foreign key: the history of a pole outlives any row.
CREATE TABLE pole_registry_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pole_id     text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    changed_by  text NOT NULL,
    source      text NOT NULL,
    changes     jsonb NOT NULL CHECK (jsonb_typeof(changes) = 'object')
);
CREATE INDEX pole_registry_history_pole_idx ON pole_registry_history (pole_id, id);
