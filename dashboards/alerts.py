"""Grafana-managed alert rules, built with the SDK and provisioned as files (or pushed).

Every rule queries a table with text columns (they become the alert instance's labels,
one instance per pole or connector) and one numeric column; a Reduce (last) and a
Threshold expression turn that into firing / normal. Queries return every pole, 0 when
fine, so instances resolve instead of going to NoData; an empty result means nothing
to watch, hence `noDataState: OK`. Alert queries cannot use dashboard variables.
"""

# S608: these strings are SQL *text* assembled from constant fragments (no values ever
# enter them); Grafana runs them after expanding its own macros and variables.
# ruff: noqa: S608

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from grafana_foundation_sdk.builders import alerting, expr
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import alerting as alerting_model

from dashboards.panels import FOLDER_TITLE, FOLDER_UID
from dashboards.queries import common as q
from dashboards.sql import DATASOURCE_UID, PanelSql, Shape, num, text

Severity = Literal["critical", "warning"]

_LATEST_LAMP = """LEFT JOIN LATERAL (SELECT l.lamp_status, l.power_state, l.observed_at
                   FROM light_readings l WHERE l.pole_id = p.pole_id
                   ORDER BY l.observed_at DESC LIMIT 1) l ON true"""


@dataclass(frozen=True, slots=True)
class AlertRule:
    uid: str
    group: str
    title: str
    sql: PanelSql
    # seconds before evaluation time the query's $__timeFrom() lies
    lookback_s: int
    threshold: float
    pending_for: str
    severity: Severity
    summary: str


def _pollutant_rule(
    *, uid: str, title: str, key: str, lookback_s: int, limit: float, summary: str, mean: str
) -> AlertRule:
    return AlertRule(
        uid=uid,
        group="air-quality",
        title=title,
        sql=PanelSql(
            f"""SELECT h.pole_id, {q.DISTRICT} AS district, {mean} AS {key}
FROM env_hourly h JOIN poles p ON p.pole_id = h.pole_id
WHERE $__timeFilter(h.bucket) AND h.{key}_count > 0
GROUP BY h.pole_id, p.district
ORDER BY h.pole_id""",
            Shape.ALERT,
            (text("pole_id"), text("district"), num(key, "conµgm3")),
        ),
        lookback_s=lookback_s,
        threshold=limit,
        pending_for="0s",
        severity="warning",
        summary=summary,
    )


RULES: tuple[AlertRule, ...] = (
    AlertRule(
        uid="smartpole-pole-offline",
        group="fleet",
        title="Pole offline",
        sql=PanelSql(
            f"""SELECT p.pole_id, {q.DISTRICT} AS district,
       CASE WHEN p.status = 'offline' OR p.last_seen IS NULL
              OR p.last_seen < now() - interval '{q.OFFLINE_AFTER}' THEN 1 ELSE 0 END
         AS offline
FROM poles p
ORDER BY p.pole_id""",
            Shape.ALERT,
            (text("pole_id"), text("district"), num("offline")),
        ),
        lookback_s=600,
        threshold=0,
        pending_for="5m",
        severity="critical",
        summary="Pole {{ $labels.pole_id }} is offline (last-will or no message for "
        f"{q.OFFLINE_AFTER}).",
    ),
    AlertRule(
        uid="smartpole-sensor-stale",
        group="fleet",
        title="Env sensor stale",
        sql=PanelSql(
            f"""SELECT p.pole_id, {q.DISTRICT} AS district,
       CASE WHEN env.observed_at IS NULL
              OR env.observed_at < now() - interval '{q.SENSOR_STALE_AFTER}' THEN 1 ELSE 0 END
         AS stale
FROM poles p
LEFT JOIN LATERAL (SELECT e.observed_at FROM env_readings e WHERE e.pole_id = p.pole_id
                   ORDER BY e.observed_at DESC LIMIT 1) env ON true
WHERE 'env' = ANY(p.capabilities) AND p.status <> 'offline'
  AND p.last_seen >= now() - interval '{q.OFFLINE_AFTER}'
ORDER BY p.pole_id""",
            Shape.ALERT,
            (text("pole_id"), text("district"), num("stale")),
        ),
        lookback_s=600,
        threshold=0,
        pending_for="5m",
        severity="warning",
        summary="Pole {{ $labels.pole_id }} is online but its env sensor sent nothing for "
        f"{q.SENSOR_STALE_AFTER}.",
    ),
    _pollutant_rule(
        uid="smartpole-pm10-over-limit",
        title="PM10 over EU daily limit",
        key="pm10",
        lookback_s=86400,
        limit=q.PM10_DAILY_LIMIT,
        summary="PM10 24-hour mean at {{ $labels.pole_id }} is over "
        f"{q.PM10_DAILY_LIMIT:g} µg/m³.",
        mean="sum(h.pm10_sum) / sum(h.pm10_count)",
    ),
    _pollutant_rule(
        uid="smartpole-no2-over-limit",
        title="NO2 over EU hourly limit",
        key="no2",
        lookback_s=7200,
        limit=q.NO2_HOURLY_LIMIT,
        summary="An hourly NO₂ mean at {{ $labels.pole_id }} is over "
        f"{q.NO2_HOURLY_LIMIT:g} µg/m³.",
        mean="max(h.no2_sum / h.no2_count)",
    ),
    _pollutant_rule(
        uid="smartpole-o3-over-target",
        title="O3 over EU 8-hour target",
        key="o3",
        lookback_s=28800,
        limit=q.O3_TARGET_8H,
        summary="The 8-hour O₃ mean at {{ $labels.pole_id }} is over "
        f"{q.O3_TARGET_8H:g} µg/m³.",
        mean="sum(h.o3_sum) / sum(h.o3_count)",
    ),
    AlertRule(
        uid="smartpole-charger-faulted",
        group="fleet",
        title="Charger Faulted",
        sql=PanelSql(
            f"""SELECT DISTINCT ON (e.pole_id, e.connector_id)
       e.pole_id, {q.DISTRICT} AS district, e.connector_id::text AS connector,
       e.error_code, CASE WHEN e.status = 'Faulted' THEN 1 ELSE 0 END AS faulted
FROM ev_readings e JOIN poles p ON p.pole_id = e.pole_id
WHERE e.observed_at > now() - interval '{q.EV_STATUS_HORIZON}'
ORDER BY e.pole_id, e.connector_id, e.observed_at DESC""",
            Shape.ALERT,
            (
                text("pole_id"),
                text("district"),
                text("connector"),
                text("error_code"),
                num("faulted"),
            ),
        ),
        lookback_s=600,
        threshold=0,
        pending_for="0s",
        severity="critical",
        summary="Connector {{ $labels.connector }} of {{ $labels.pole_id }} is Faulted "
        "({{ $labels.error_code }}).",
    ),
    AlertRule(
        uid="smartpole-lamp-defective",
        group="fleet",
        title="Lamp defective",
        sql=PanelSql(
            f"""SELECT p.pole_id, {q.DISTRICT} AS district,
       coalesce(l.lamp_status, 'ok') AS lamp_status,
       CASE WHEN coalesce(l.lamp_status, 'ok') <> 'ok' THEN 1 ELSE 0 END AS defective
FROM poles p
{_LATEST_LAMP}
WHERE l.observed_at IS NOT NULL
ORDER BY p.pole_id""",
            Shape.ALERT,
            (text("pole_id"), text("district"), text("lamp_status"), num("defective")),
        ),
        lookback_s=600,
        threshold=0,
        pending_for="15m",
        severity="warning",
        summary="Lamp at {{ $labels.pole_id }} reports {{ $labels.lamp_status }}.",
    ),
    AlertRule(
        uid="smartpole-lamp-day-burning",
        group="fleet",
        title="Lamp burning in daylight",
        sql=PanelSql(
            f"""SELECT p.pole_id, {q.DISTRICT} AS district,
       CASE WHEN l.power_state IN ('on', 'low')
              AND {q.sun_elevation_deg("now()")} > {q.DAYLIGHT_SUN_ELEVATION_DEG}
            THEN 1 ELSE 0 END AS day_burning
FROM poles p
{_LATEST_LAMP}
WHERE $__timeFilter(l.observed_at) AND p.latitude IS NOT NULL AND p.longitude IS NOT NULL
ORDER BY p.pole_id""",
            Shape.ALERT,
            (text("pole_id"), text("district"), num("day_burning")),
        ),
        lookback_s=3600,
        threshold=0,
        pending_for="30m",
        severity="warning",
        summary="Lamp at {{ $labels.pole_id }} burns while the sun is up.",
    ),
)

GROUP_INTERVALS_S = {"fleet": 60, "air-quality": 300}


def rule_json(rule: AlertRule) -> dict[str, Any]:
    """The rule as Grafana's provisioning API models it (folder and group left to the caller)."""
    built = (
        alerting.Rule(rule.title)
        .uid(rule.uid)
        .condition("C")
        .for_val(rule.pending_for)
        .no_data_state("OK")
        .exec_err_state("Error")
        .labels({"team": "smartpole", "severity": rule.severity})
        .annotations({"summary": rule.summary})
        .with_query(
            alerting.Query("A")
            .datasource_uid(DATASOURCE_UID)
            .relative_time_range(alerting_model.RelativeTimeRange(from_val=rule.lookback_s, to=0))
            .model(rule.sql.target("A"))
        )
        .with_query(
            alerting.Query("B")
            .datasource_uid("__expr__")
            .model(expr.TypeReduce().ref_id("B").expression("A").reducer("last"))
        )
        .with_query(
            alerting.Query("C")
            .datasource_uid("__expr__")
            .model(
                expr.TypeThreshold()
                .ref_id("C")
                .expression("B")
                .conditions(
                    [
                        expr.ExprTypeThresholdConditions().evaluator(
                            expr.ExprTypeThresholdConditionsEvaluator()
                            .type("gt")
                            .params([float(rule.threshold)])
                        )
                    ]
                )
            )
        )
    )
    data: dict[str, Any] = json.loads(json.dumps(built.build(), cls=JSONEncoder))
    for api_only in ("folderUID", "ruleGroup", "orgID"):
        data.pop(api_only, None)
    return data


def groups() -> dict[str, list[AlertRule]]:
    grouped: dict[str, list[AlertRule]] = {name: [] for name in GROUP_INTERVALS_S}
    for rule in RULES:
        grouped[rule.group].append(rule)
    return grouped


def provisioning_document() -> dict[str, Any]:
    """Grafana's alerting file-provisioning format (provisioning/alerting/*.yaml)."""
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": name,
                "folder": FOLDER_TITLE,
                "interval": f"{GROUP_INTERVALS_S[name]}s",
                "rules": [{**rule_json(rule), "isPaused": False} for rule in rules],
            }
            for name, rules in groups().items()
        ],
    }


def api_rule_group(name: str) -> dict[str, Any]:
    """Body of PUT /api/v1/provisioning/folder/{folder}/rule-groups/{group}."""
    return {
        "title": name,
        "folderUid": FOLDER_UID,
        "interval": GROUP_INTERVALS_S[name],
        "rules": [
            {**rule_json(rule), "folderUID": FOLDER_UID, "ruleGroup": name, "orgID": 1}
            for rule in groups()[name]
        ],
    }
