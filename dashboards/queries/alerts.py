"""The SQL of the alert rules (no template variables: alerts run without a dashboard).

Each query returns text columns (the instance's labels) and one number, one row per
pole, connector or sensor to watch, 0 when fine: instances resolve instead of
disappearing. The fleet rules read the `pole_health` view, so an alert fires for exactly
the poles `/v1/health/poles` calls offline, stale or faulted.
"""

# S608: these strings are SQL *text* assembled from constant fragments (no values ever
# enter them); Grafana runs them after expanding its own macros and variables.
# ruff: noqa: S608

from __future__ import annotations

from dashboards.domain import (
    ENV_HOURLY,
    EV_LATEST,
    POLE_HEALTH,
    env_rollup_column,
    grafana_unit,
    interval,
    literal,
    literals,
)
from dashboards.queries.common import DISTRICT, sun_elevation_deg
from dashboards.queries.health import FROM_HEALTH, IS_OFFLINE
from dashboards.sql import PanelSql, Shape, num, text
from models.catalogue.air_quality import AirQualityStandard, Indicator
from models.catalogue.families import ENV
from models.catalogue.health import (
    CONNECTOR_STATUS_HORIZON,
    DAY_BURNER_SUN_ELEVATION_DEG,
    LAMP_OK,
    LIT_POWER_STATES,
)
from models.vocabulary import Capability

POLE_OFFLINE = PanelSql(
    f"""SELECT p.pole_id, {DISTRICT} AS district,
       CASE WHEN {IS_OFFLINE} THEN 1 ELSE 0 END AS offline
{FROM_HEALTH}
ORDER BY p.pole_id""",
    Shape.ALERT,
    (text("pole_id"), text("district"), num("offline")),
)

# One instance per pole and installed sensor; the view lists the stale ones (only while
# the pole is online, so an offline pole raises one alert, not one per sensor).
SENSOR_STALE = PanelSql(
    f"""SELECT p.pole_id, {DISTRICT} AS district, s.sensor,
       CASE WHEN s.sensor = ANY (p.stale_sensors) THEN 1 ELSE 0 END AS stale
{FROM_HEALTH}
CROSS JOIN LATERAL (SELECT DISTINCT unnest(p.capabilities) AS sensor) s
WHERE s.sensor IN ({literals(Capability)})
ORDER BY p.pole_id, s.sensor""",
    Shape.ALERT,
    (text("pole_id"), text("district"), text("sensor"), num("stale")),
)

# One instance per connector that reported within the horizon; whether it is faulted is
# the view's judgement (its `charger_faults` lists the faulted connectors).
CHARGER_FAULTED = PanelSql(
    f"""SELECT c.pole_id, {DISTRICT} AS district, c.connector_id::text AS connector,
       c.error_code,
       CASE WHEN p.charger_faults @> jsonb_build_array(
                   jsonb_build_object('connector_id', c.connector_id))
            THEN 1 ELSE 0 END AS faulted
FROM (SELECT e.pole_id, e.connector_id, e.error_code
      FROM {EV_LATEST} e
      WHERE e.observed_at > now() - {interval(CONNECTOR_STATUS_HORIZON)}) c
JOIN {POLE_HEALTH} p ON p.pole_id = c.pole_id
ORDER BY c.pole_id, c.connector_id""",
    Shape.ALERT,
    (text("pole_id"), text("district"), text("connector"), text("error_code"), num("faulted")),
)

LAMP_DEFECTIVE = PanelSql(
    f"""SELECT p.pole_id, {DISTRICT} AS district,
       coalesce(p.lamp_status, {literal(LAMP_OK.value)}) AS lamp_status,
       CASE WHEN p.lamp_fault THEN 1 ELSE 0 END AS defective
{FROM_HEALTH}
WHERE p.light_observed_at IS NOT NULL
ORDER BY p.pole_id""",
    Shape.ALERT,
    (text("pole_id"), text("district"), text("lamp_status"), num("defective")),
)

LAMP_DAY_BURNING = PanelSql(
    f"""SELECT p.pole_id, {DISTRICT} AS district,
       CASE WHEN p.power_state IN ({literals(LIT_POWER_STATES)})
              AND {sun_elevation_deg("now()")} > {DAY_BURNER_SUN_ELEVATION_DEG:g}
            THEN 1 ELSE 0 END AS day_burning
{FROM_HEALTH}
WHERE $__timeFilter(p.light_observed_at) AND p.latitude IS NOT NULL
  AND p.longitude IS NOT NULL
ORDER BY p.pole_id""",
    Shape.ALERT,
    (text("pole_id"), text("district"), num("day_burning")),
)


# How far back a pollutant rule looks, and what it compares with the standard: the mean
# over the standard's averaging period, or (hourly standards) the highest hourly mean of
# the last two hours, so an hour that just closed is never missed.
POLLUTANT_LOOKBACK_S = {
    Indicator.HOURLY_MEAN: 2 * 3600,
    Indicator.DAILY_MEAN: 24 * 3600,
    Indicator.MAX_DAILY_8H_MEAN: 8 * 3600,
}


def pollutant_over(standard: AirQualityStandard) -> PanelSql:
    field = ENV.field(standard.pollutant)
    count = f"h.{env_rollup_column(field, 'count')}"
    total = f"h.{env_rollup_column(field, 'sum')}"
    if standard.indicator is Indicator.HOURLY_MEAN:
        mean = f"max({total} / {count})"
    elif standard.indicator in POLLUTANT_LOOKBACK_S:
        mean = f"sum({total}) / sum({count})"
    else:
        raise ValueError(f"no alert for {standard.indicator} standards")
    return PanelSql(
        f"""SELECT h.pole_id, {DISTRICT} AS district, {mean} AS {field.column}
FROM {ENV_HOURLY} h JOIN poles p ON p.pole_id = h.pole_id
WHERE $__timeFilter(h.bucket) AND {count} > 0
GROUP BY h.pole_id, p.district
ORDER BY h.pole_id""",
        Shape.ALERT,
        (text("pole_id"), text("district"), num(field.column, grafana_unit(field))),
    )
