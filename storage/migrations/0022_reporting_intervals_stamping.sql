-- One table for a pole's reporting interval: 0017's env_reporting (env only, with
-- stamped_at_end) folds into 0019's reporting_intervals (per family).
-- stamped_at_end: the pole reports interval means labelled with the end of their
-- interval, as UBA and EEA data are: a value stamped 01:00 is the hour 00:00-01:00
-- (the official statistics shift such hours back; the writer's rollups bucket by
-- the stamp).
ALTER TABLE reporting_intervals ADD COLUMN stamped_at_end boolean NOT NULL DEFAULT false;

INSERT INTO reporting_intervals (pole_id, family, interval_s, stamped_at_end, updated_at)
SELECT pole_id, 'env', interval_s, stamped_at_end, updated_at FROM env_reporting
ON CONFLICT (pole_id, family) DO UPDATE
    SET interval_s = EXCLUDED.interval_s,
        stamped_at_end = EXCLUDED.stamped_at_end,
        updated_at = EXCLUDED.updated_at;

DROP TABLE env_reporting;
