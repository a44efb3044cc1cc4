"""A small fleet with every condition the dashboards and alerts show, relative to now().

Plain INSERT ... SELECT (no COPY: PGlite cannot), so the same statements seed plain
PostgreSQL and TimescaleDB. env_hourly is filled from env_readings the way the ingest
writer maintains it.

Poles: CR-0001 (Mitte, healthy, PM10/NO2/O3 over the limits, its lamp burns one whole
day), CR-0002 (Mitte, online but env sensor stale, lamp defective, Wi-Fi down, connector 1
Faulted), CR-0003 (Nord, offline), CR-0004 (district with a quote in its name, no
coordinates).
"""

# S608: test SQL assembled from constant column lists, no values.
# ruff: noqa: S608

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from airquality.official import CET
from airquality.service import refresh_statistics
from storage.readmodels.rebuild import FIRST_BUILD, rebuild, rebuild_latest

ENV_MEASURES = (
    "pm25",
    "pm10",
    "no2",
    "o3",
    "temperature",
    "relative_humidity",
    "atmospheric_pressure",
    "laeq",
    "lamax",
)
POLES = ("CR-0001", "CR-0002", "CR-0003", "CR-0004")
DISTRICTS = ("Mitte", "Nord", "O'Hara Park")

_ROLLUP_COLUMNS = ", ".join(f"{m}_count, {m}_sum, {m}_min, {m}_max" for m in ENV_MEASURES)
_ROLLUP_VALUES = ", ".join(
    f"count({m}), coalesce(sum({m}), 0), min({m}), max({m})" for m in ENV_MEASURES
)

STATEMENTS = (
    """INSERT INTO poles (pole_id, name, district, latitude, longitude, capabilities,
                       first_seen, last_seen, last_observed_at, status, status_since,
                       firmware_version)
VALUES
 ('CR-0001', 'Rathausplatz', 'Mitte', 52.5186, 13.4081, '{env,ev,light,status,wifi}',
  now() - interval '40 days', now(), now(), 'online', now() - interval '3 days', '2.4.1'),
 ('CR-0002', 'Marktstraße', 'Mitte', 52.5200, 13.4100, '{env,ev,light,status,wifi}',
  now() - interval '40 days', now(), now(), 'online', now() - interval '3 days', '2.4.1'),
 ('CR-0003', 'Nordring', 'Nord', 52.5400, 13.4000, '{env,light,status}',
  now() - interval '40 days', now() - interval '2 hours', now() - interval '2 hours',
  'offline', now() - interval '2 hours', '2.3.0'),
 ('CR-0004', NULL, 'O''Hara Park', NULL, NULL, '{env,light,wifi}',
  now() - interval '40 days', now(), now(), 'online', now() - interval '3 days', NULL)""",
    # env every 10 min for 3 days, plus a few hours 20 days ago (long ranges)
    """INSERT INTO env_readings (pole_id, observed_at, received_at, pm25, pm10, no2, o3,
                              temperature, relative_humidity, atmospheric_pressure, laeq, lamax)
SELECT pole_id, t, t,
       8 + extract(hour FROM t)::int % 5,
       CASE WHEN pole_id = 'CR-0001' AND t > now() - interval '30 hours' THEN 64 ELSE 21 END,
       CASE WHEN pole_id = 'CR-0001' AND t > now() - interval '90 minutes' THEN 240 ELSE 35 END,
       CASE WHEN pole_id = 'CR-0001' AND t > now() - interval '10 hours' THEN 150 ELSE 60 END,
       6.5, 81, 1012.3, 55 + extract(hour FROM t)::int % 7, 71.4
FROM unnest(ARRAY['CR-0001', 'CR-0002', 'CR-0003', 'CR-0004']) AS pole_id
CROSS JOIN generate_series(date_trunc('minute', now()) - interval '3 days',
                           date_trunc('minute', now()), interval '10 minutes') AS t
WHERE NOT (pole_id = 'CR-0002' AND t > now() - interval '2 hours')
  AND NOT (pole_id = 'CR-0003' AND t > now() - interval '2 hours')
UNION ALL
SELECT 'CR-0001', t, t, 9, 70, 30, 50, 4, 85, 1010, 58, 70
FROM generate_series(date_trunc('hour', now()) - interval '20 days',
                     date_trunc('hour', now()) - interval '20 days' + interval '5 hours',
                     interval '10 minutes') AS t""",
    f"""INSERT INTO env_hourly (pole_id, bucket, readings, {_ROLLUP_COLUMNS}, laeq_energy_sum)
SELECT pole_id, date_trunc('hour', observed_at), count(*), {_ROLLUP_VALUES},
       coalesce(sum(10 ^ (laeq / 10)), 0)
FROM env_readings GROUP BY 1, 2""",
    # light every 15 min: on at night, dimmed late; CR-0001 burns the whole day 2 days ago
    """INSERT INTO light_readings (pole_id, observed_at, received_at, power_state,
                                illuminance_level, active_power, total_active_energy_import,
                                lamp_status)
SELECT pole_id, t, t,
       CASE WHEN pole_id = 'CR-0001' AND t BETWEEN now() - interval '60 hours'
                                              AND now() - interval '36 hours' THEN 'on'
            WHEN extract(hour FROM t) >= 16 OR extract(hour FROM t) < 6 THEN
              CASE WHEN extract(hour FROM t) < 4 THEN 'low' ELSE 'on' END
            ELSE 'off' END,
       CASE WHEN extract(hour FROM t) < 4 THEN 0.4 ELSE 1.0 END,
       45, 1200 + extract(epoch FROM t - (now() - interval '3 days')) / 3600 * 0.03,
       CASE WHEN pole_id = 'CR-0002' AND t > now() - interval '1 day' THEN 'defectiveLamp'
            ELSE 'ok' END
FROM unnest(ARRAY['CR-0001', 'CR-0002', 'CR-0003', 'CR-0004']) AS pole_id
CROSS JOIN generate_series(date_trunc('minute', now()) - interval '3 days',
                           date_trunc('minute', now()), interval '15 minutes') AS t""",
    # Wi-Fi every 15 min; CR-0001's access point reboots a day ago; CR-0002 is down now
    """INSERT INTO wifi_readings (pole_id, observed_at, received_at, status, connected_clients,
                               bytes_in, bytes_out)
SELECT pole_id, t, t,
       CASE WHEN pole_id = 'CR-0002' AND t > now() - interval '1 hour' THEN 'down' ELSE 'up' END,
       (extract(hour FROM t)::int * 3) % 40,
       CASE WHEN pole_id = 'CR-0001' AND t > now() - interval '1 day'
            THEN extract(epoch FROM t - (now() - interval '1 day'))::bigint * 1000
            ELSE extract(epoch FROM t - (now() - interval '3 days'))::bigint * 5000 END,
       extract(epoch FROM t - (now() - interval '3 days'))::bigint * 700
FROM unnest(ARRAY['CR-0001', 'CR-0002', 'CR-0004']) AS pole_id
CROSS JOIN generate_series(date_trunc('minute', now()) - interval '3 days',
                           date_trunc('minute', now()), interval '15 minutes') AS t""",
    # two connectors each on CR-0001 and CR-0002, hourly cycles of sessions
    """INSERT INTO ev_readings (pole_id, connector_id, observed_at, received_at, status,
                             error_code, charging_power, total_active_energy_import,
                             transaction_id)
SELECT pole_id, connector_id, t, t,
       CASE WHEN pole_id = 'CR-0002' AND connector_id = 1 AND t > now() - interval '1 hour'
              THEN 'Faulted'
            WHEN extract(hour FROM t)::int % 3 = 0 THEN 'Available'
            WHEN extract(hour FROM t)::int % 3 = 1 THEN 'Charging'
            ELSE 'Finishing' END,
       CASE WHEN pole_id = 'CR-0002' AND connector_id = 1 AND t > now() - interval '1 hour'
              THEN 'GroundFailure' ELSE 'NoError' END,
       CASE WHEN extract(hour FROM t)::int % 3 = 1 THEN 11 ELSE 0 END,
       5000 + extract(epoch FROM t - (now() - interval '3 days')) / 3600 * 3.5,
       CASE WHEN extract(hour FROM t)::int % 3 = 0 THEN NULL
            ELSE 'tx-' || pole_id || '-' || connector_id || '-'
                 || (extract(epoch FROM t)::bigint / 10800) END
FROM unnest(ARRAY['CR-0001', 'CR-0002']) AS pole_id
CROSS JOIN generate_series(1, 2) AS connector_id
CROSS JOIN generate_series(date_trunc('minute', now()) - interval '3 days',
                           date_trunc('minute', now()), interval '20 minutes') AS t""",
    """INSERT INTO status_events (pole_id, observed_at, received_at, status, firmware_version)
VALUES ('CR-0001', now() - interval '3 days', now() - interval '3 days', 'online', '2.4.1'),
       ('CR-0001', now() - interval '26 hours', now() - interval '26 hours', 'offline', NULL),
       ('CR-0001', now() - interval '25 hours', now() - interval '25 hours', 'online', '2.4.1'),
       ('CR-0003', now() - interval '2 hours', now() - interval '2 hours', 'offline', NULL)""",
)


def seed(conn: psycopg.Connection[Any]) -> None:
    for statement in STATEMENTS:
        # bytes: trusted test SQL, sent as a simple query without parameters
        conn.execute(statement.encode())
    # The seed's env readings come every 10 minutes: 6 expected an hour.
    conn.execute(
        "INSERT INTO reporting_intervals (pole_id, family, interval_s)"
        " SELECT pole_id, 'env', 600 FROM poles"
    )
    # The read models the writer would keep for these rows (the seed writes the raw
    # tables and env_hourly directly): the rebuild's SQL, which the read-model tests
    # hold equal to the writer's.
    rebuild(conn, FIRST_BUILD)
    rebuild_latest(conn)
    # The official statistics of this CET year, as `smartpole air-quality refresh` stores them.
    refresh_statistics(conn, datetime.now(CET).year)
