-- Hourly rollup of env_readings, maintained by the ingest writer in the same
-- transaction as the raw rows it summarises (see storage/writer.py): late data
-- updates the bucket it belongs to, on plain PostgreSQL and TimescaleDB alike,
-- and dropping raw rows by retention leaves the rollup intact.
-- Buckets are UTC hours; local days group them by the day of `bucket AT TIME
-- ZONE tz` (whole-hour offsets, so a DST day has 23 or 25 buckets).
-- avg = sum / count. Noise is averaged on energy, not on decibels:
-- LAeq(hour) = 10 * log10(laeq_energy_sum / laeq_count).

CREATE TABLE env_hourly (
    pole_id  text NOT NULL,
    bucket   timestamptz NOT NULL,
    readings integer NOT NULL DEFAULT 0,
    pm25_count integer NOT NULL DEFAULT 0,
    pm25_sum double precision NOT NULL DEFAULT 0,
    pm25_min real,
    pm25_max real,
    pm10_count integer NOT NULL DEFAULT 0,
    pm10_sum double precision NOT NULL DEFAULT 0,
    pm10_min real,
    pm10_max real,
    no2_count integer NOT NULL DEFAULT 0,
    no2_sum double precision NOT NULL DEFAULT 0,
    no2_min real,
    no2_max real,
    o3_count integer NOT NULL DEFAULT 0,
    o3_sum double precision NOT NULL DEFAULT 0,
    o3_min real,
    o3_max real,
    temperature_count integer NOT NULL DEFAULT 0,
    temperature_sum double precision NOT NULL DEFAULT 0,
    temperature_min real,
    temperature_max real,
    relative_humidity_count integer NOT NULL DEFAULT 0,
    relative_humidity_sum double precision NOT NULL DEFAULT 0,
    relative_humidity_min real,
    relative_humidity_max real,
    atmospheric_pressure_count integer NOT NULL DEFAULT 0,
    atmospheric_pressure_sum double precision NOT NULL DEFAULT 0,
    atmospheric_pressure_min real,
    atmospheric_pressure_max real,
    laeq_count integer NOT NULL DEFAULT 0,
    laeq_sum double precision NOT NULL DEFAULT 0,
    laeq_min real,
    laeq_max real,
    lamax_count integer NOT NULL DEFAULT 0,
    lamax_sum double precision NOT NULL DEFAULT 0,
    lamax_min real,
    lamax_max real,
    laeq_energy_sum double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (pole_id, bucket)
);
