-- Which poles hold broker credentials, since when, and who changed them.
-- Never the password: the broker keeps only a salted hash of it, the field
-- technician the commissioning file.
CREATE TABLE pole_credentials (
    pole_id     text PRIMARY KEY,
    username    text NOT NULL UNIQUE,
    client_id   text NOT NULL UNIQUE,
    issued_at   timestamptz NOT NULL,
    rotated_at  timestamptz,
    revoked_at  timestamptz,
    changed_by  text NOT NULL
);

-- Every issue, rotation and revocation, kept.
CREATE TABLE pole_credential_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pole_id     text NOT NULL,
    event       text NOT NULL CHECK (event IN ('issued', 'rotated', 'revoked')),
    at          timestamptz NOT NULL DEFAULT now(),
    changed_by  text NOT NULL
);
CREATE INDEX pole_credential_events_pole_idx ON pole_credential_events (pole_id, at);

-- Decommissioned poles get no credentials (`issue --all` skips them). The
-- pole inventory migration adds this column too; whichever runs first wins.
ALTER TABLE poles ADD COLUMN IF NOT EXISTS decommissioned_at timestamptz;
