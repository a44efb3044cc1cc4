-- The health thresholds in effect (when a pole counts as offline, when a sensor
-- as stale), written by every `smartpole db migrate` from its settings. The
-- pole_health view reads them, and the API and the Grafana panels and alerts
-- read that view: one running value, one definition, no disagreement.
CREATE TABLE health_thresholds (
    name       text PRIMARY KEY,
    seconds    integer NOT NULL CHECK (seconds > 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
