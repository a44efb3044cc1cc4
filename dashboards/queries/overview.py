"""City overview: pole health counts, map, problems, data freshness."""

# S608: these strings are SQL *text* assembled from constant fragments (no values ever
# enter them); Grafana runs them after expanding its own macros and variables.
# ruff: noqa: S608

from __future__ import annotations

from dashboards.queries.common import DISTRICT, EV_STATUS_HORIZON, OFFLINE_AFTER, SENSOR_STALE_AFTER
from dashboards.sql import Column, PanelSql, Shape, num, text, time_col
from dashboards.sql import ColumnKind as Kind

# --- pole health: one definition for the map, the counts, the problem list -------------
POLE_HEALTH = f"""
WITH latest AS (
  SELECT p.pole_id, p.name, {DISTRICT} AS district, p.latitude, p.longitude,
         p.last_seen, p.status, 'env' = ANY(p.capabilities) AS has_env,
         p.status = 'offline' OR p.last_seen IS NULL
           OR p.last_seen < now() - interval '{OFFLINE_AFTER}' AS offline,
         env.observed_at AS env_at,
         light.lamp_status, light.observed_at AS light_at,
         wifi.status AS wifi_status,
         coalesce(ev.faulted, 0) AS faulted_connectors
  FROM poles p
  LEFT JOIN LATERAL (SELECT e.observed_at FROM env_readings e WHERE e.pole_id = p.pole_id
                     ORDER BY e.observed_at DESC LIMIT 1) env ON true
  LEFT JOIN LATERAL (SELECT l.lamp_status, l.observed_at FROM light_readings l
                     WHERE l.pole_id = p.pole_id ORDER BY l.observed_at DESC LIMIT 1) light ON true
  LEFT JOIN LATERAL (SELECT w.status FROM wifi_readings w WHERE w.pole_id = p.pole_id
                     ORDER BY w.observed_at DESC LIMIT 1) wifi ON true
  LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE c.status = 'Faulted') AS faulted
    FROM (SELECT DISTINCT ON (e.connector_id) e.status FROM ev_readings e
          WHERE e.pole_id = p.pole_id AND e.observed_at > now() - interval '{EV_STATUS_HORIZON}'
          ORDER BY e.connector_id, e.observed_at DESC) c) ev ON true
), health AS (
  SELECT *,
         NOT offline AND has_env
           AND (env_at IS NULL OR env_at < now() - interval '{SENSOR_STALE_AFTER}')
           AS sensor_stale,
         coalesce(lamp_status, 'ok') <> 'ok' OR faulted_connectors > 0
           OR wifi_status = 'down' AS faulted
  FROM latest
)
"""

OVERVIEW_COUNTS = PanelSql(
    POLE_HEALTH
    + """SELECT count(*) FILTER (WHERE NOT offline) AS online,
       count(*) FILTER (WHERE offline) AS offline,
       count(*) FILTER (WHERE NOT offline AND faulted) AS faulted,
       count(*) FILTER (WHERE sensor_stale) AS sensor_stale
FROM health""",
    Shape.SINGLE_ROW,
    (num("online"), num("offline"), num("faulted"), num("sensor_stale")),
)

OVERVIEW_MAP = PanelSql(
    POLE_HEALTH
    + """SELECT pole_id, coalesce(name, pole_id) AS name, district, latitude, longitude,
       CASE WHEN offline THEN 'offline' WHEN faulted THEN 'faulted'
            WHEN sensor_stale THEN 'sensor stale' ELSE 'ok' END AS health,
       CASE WHEN offline THEN 3 WHEN faulted THEN 2 WHEN sensor_stale THEN 1 ELSE 0 END
         AS health_code,
       last_seen
FROM health
WHERE latitude IS NOT NULL AND longitude IS NOT NULL
ORDER BY pole_id""",
    Shape.TABLE,
    (
        text("pole_id"),
        text("name"),
        text("district"),
        num("latitude"),
        num("longitude"),
        text("health"),
        num("health_code"),
        Column("last_seen", Kind.TIME),
    ),
)

OVERVIEW_PROBLEMS = PanelSql(
    POLE_HEALTH
    + """SELECT pole_id, district, problem, since FROM (
  SELECT pole_id, district, 'pole offline' AS problem, last_seen AS since FROM health
   WHERE offline
  UNION ALL
  SELECT pole_id, district, 'env sensor stale', env_at FROM health WHERE sensor_stale
  UNION ALL
  SELECT pole_id, district, 'lamp ' || lamp_status, light_at FROM health
   WHERE NOT offline AND coalesce(lamp_status, 'ok') <> 'ok'
  UNION ALL
  SELECT pole_id, district, faulted_connectors || ' charger(s) Faulted', NULL FROM health
   WHERE NOT offline AND faulted_connectors > 0
  UNION ALL
  SELECT pole_id, district, 'Wi-Fi down', NULL FROM health
   WHERE NOT offline AND wifi_status = 'down'
) problems
ORDER BY problem, pole_id""",
    Shape.TABLE,
    (text("pole_id"), text("district"), text("problem"), Column("since", Kind.TIME)),
)

OVERVIEW_FRESHNESS = PanelSql(
    f"""SELECT extract(epoch FROM now() - max(last_seen))::float8 AS newest_message_age,
       extract(epoch FROM now() - max(last_observed_at))::float8 AS newest_reading_age,
       count(*) FILTER (WHERE last_seen IS NULL
                        OR last_seen < now() - interval '{OFFLINE_AFTER}') AS silent_poles
FROM poles""",
    Shape.SINGLE_ROW,
    (num("newest_message_age", "s"), num("newest_reading_age", "s"), num("silent_poles")),
)

OVERVIEW_ENV_READINGS = PanelSql(
    """SELECT $__timeGroupAlias(h.bucket, $__interval), sum(h.readings) AS env_readings
FROM env_hourly h
WHERE $__timeFilter(h.bucket)
GROUP BY 1
ORDER BY 1""",
    Shape.TIME_SERIES,
    (time_col(), num("env_readings")),
)
