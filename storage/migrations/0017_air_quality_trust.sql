-- What the platform needs to trust a pole's air-quality data.

-- How often a pole reports env readings, when it differs from the catalogue's cadence
-- (FamilySpec.expected_cadence): a valid hour needs 75 % of the readings expected in it.
-- stamped_at_end: the pole reports hourly (or other interval) means labelled with the end
-- of their interval, as UBA and EEA data are: a value stamped 01:00 is the hour 00:00-01:00.
CREATE TABLE env_reporting (
    pole_id            text PRIMARY KEY,
    interval_s         integer NOT NULL CHECK (interval_s BETWEEN 1 AND 86400),
    stamped_at_end     boolean NOT NULL DEFAULT false,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Versioned per-pole linear corrections (airquality/calibration.py), fitted from
-- co-location with a reference station and applied at read time: raw values stay as
-- the pole sent them.
CREATE TABLE pole_calibrations (
    pole_id               text NOT NULL,
    metric                text NOT NULL,
    version               integer NOT NULL CHECK (version > 0),
    intercept             double precision NOT NULL,
    slope                 double precision NOT NULL,
    humidity_coefficient  double precision,
    station_id            text,
    fitted_from           date NOT NULL,
    fitted_to             date NOT NULL,
    days                  integer NOT NULL,
    r2                    double precision,
    rmse                  double precision,
    created_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pole_id, metric, version)
);

-- The official statistics as `smartpole air-quality refresh` last computed them (the same
-- computation as GET /v1/air-quality/statistics), for the Environment dashboard: Grafana
-- reads SQL, so it reads these rows rather than restating the rules in panel SQL.
CREATE TABLE aq_statistics (
    site_kind      text NOT NULL CHECK (site_kind IN ('pole', 'reference')),
    site_id        text NOT NULL,
    district       text,
    year           integer NOT NULL,
    statistic      text NOT NULL,          -- standard key, e.g. pm10.daily_mean
    rule_set       text NOT NULL,
    in_force       boolean NOT NULL,       -- false: the 2030 values, as a target
    threshold      double precision NOT NULL,
    allowed        integer,
    value          double precision,
    published      double precision,
    exceedances    integer,
    valid          boolean NOT NULL,
    capture        double precision,
    verdict        text NOT NULL,
    correction     text NOT NULL,
    computed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_kind, site_id, year, statistic, rule_set)
);
