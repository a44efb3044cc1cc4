-- Reference (fixed) monitoring stations of the environment agencies and the values
-- they publish, imported by `smartpole stations import` (UBA CSV, EEA e-reporting CSV).
-- Kept apart from the poles' env_readings on purpose: a station publishes aggregated
-- values with their own averaging period (an hourly mean, a daily mean, a 24-hour
-- running mean written every hour), not instantaneous samples, so they must never
-- pass through the hourly rollup and be averaged again.

CREATE TABLE reference_stations (
    station_id        text PRIMARY KEY,   -- the station code, e.g. DENW095
    eoi_code          text,               -- EoI (AirBase) code; in Germany the same as the code
    national_id       text,               -- e.g. the UBA's numeric station id
    name              text,
    station_type      text CHECK (station_type IN ('traffic', 'background', 'industrial')),
    area_type         text CHECK (area_type IN ('urban', 'suburban', 'rural')),
    district          text,
    latitude          double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude         double precision CHECK (longitude BETWEEN -180 AND 180),
    network           text,               -- e.g. LANUV NRW
    source            text NOT NULL,      -- the export format it came from (uba, eea)
    measurement_class text NOT NULL DEFAULT 'reference' CHECK (measurement_class = 'reference'),
    imported_at       timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reference_values (
    station_id    text NOT NULL REFERENCES reference_stations ON DELETE CASCADE,
    metric        text NOT NULL,          -- env metric column: pm10, pm25, no2, o3
    averaging     text NOT NULL
                  CHECK (averaging IN ('hour', 'day', 'day, hourly floating')),
    period_start  timestamptz NOT NULL,
    period_end    timestamptz NOT NULL CHECK (period_end > period_start),
    value         double precision NOT NULL CHECK (value >= 0),
    -- as published: EEA validity / verification codes, when the format carries them
    verification  smallint,
    PRIMARY KEY (station_id, metric, averaging, period_end)
);
