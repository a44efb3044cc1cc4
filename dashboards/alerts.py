"""Grafana-managed alert rules, built with the SDK and provisioned as files (or pushed).

Every rule queries a table with text columns (they become the alert instance's labels,
one instance per pole, sensor or connector) and one numeric column; a Reduce (last) and a
Threshold expression turn that into firing / normal. Queries return every pole, 0 when
fine, so instances resolve instead of going to NoData; an empty result means nothing
to watch, hence `noDataState: OK`. Alert queries cannot use dashboard variables.

The fleet rules read the `pole_health` view (the API's judgement); the air-quality rules
are generated from the catalogue's EU standards and carry the standard as labels
(`pollutant`, `indicator`, `rule_set`, `objective`), which the tests use to check their thresholds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from grafana_foundation_sdk.builders import alerting, expr
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import alerting as alerting_model

from dashboards.domain import (
    DEFAULT_OFFLINE_AFTER,
    DEFAULT_STALE_SENSOR_AFTER,
    OFFLINE_AFTER_VARIABLE,
    RULE_SET_IN_FORCE,
    STALE_SENSOR_AFTER_VARIABLE,
    counted_standards,
    period_text,
    standard_text,
)
from dashboards.panels import FOLDER_TITLE, FOLDER_UID
from dashboards.queries import alerts as q
from dashboards.sql import DATASOURCE_UID, PanelSql
from models.catalogue.air_quality import AirQualityStandard
from models.catalogue.families import ENV
from models.catalogue.health import DAY_BURNER_SUN_ELEVATION_DEG
from models.vocabulary import Capability

Severity = Literal["critical", "warning"]

# The API calls a pole offline (or a sensor stale) the moment the view does; the view's
# threshold is the debounce (15 missed reports by default), so a long pending period on
# top would only make the alert lag the API (it was 5 minutes). One minute (the second
# evaluation in a row at the fleet group's 60 s interval) keeps a last-will followed by an
# immediate reconnect - a broker restart, a pole rebooting - from paging anyone.
AGREES_WITH_API_FOR = "1m"


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
    # what the rule watches, in words with the numbers it uses (README, description)
    fires_when: str
    # extra labels: the air-quality rules name the standard they compare with
    labels: dict[str, str] = field(default_factory=dict)


def _pollutant_rule(standard: AirQualityStandard) -> AlertRule:
    field_spec = ENV.field(standard.pollutant)
    period = period_text(standard.indicator)
    objective = standard.objective.value.split()[0]  # limit, target
    unit = field_spec.unit.symbol if field_spec.unit is not None else ""
    lookback_s = q.POLLUTANT_LOOKBACK_S[standard.indicator]
    return AlertRule(
        uid=f"smartpole-{standard.pollutant}-over-{objective}",
        group="air-quality",
        title=f"{field_spec.title} over the EU {period} {objective} value",
        sql=q.pollutant_over(standard),
        lookback_s=lookback_s,
        threshold=standard.threshold,
        pending_for="0s",
        severity="warning",
        summary=f"{field_spec.title} at {{{{ $labels.pole_id }}}}: {period} mean over "
        f"{standard.threshold:g} {unit}.",
        fires_when=(
            f"an hourly mean of the last {lookback_s // 3600} hours"
            if period == "hourly"
            else f"the {lookback_s // 3600}-hour mean"
        )
        + f" > {standard_text(standard)}, {standard.rule_set.value}",
        labels={
            "pollutant": standard.pollutant,
            "indicator": standard.indicator.value,
            "rule_set": standard.rule_set.value,
            "objective": standard.objective.value,
        },
    )


FLEET_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        uid="smartpole-pole-offline",
        group="fleet",
        title="Pole offline",
        sql=q.POLE_OFFLINE,
        lookback_s=600,
        threshold=0,
        pending_for=AGREES_WITH_API_FOR,
        severity="critical",
        summary="Pole {{ $labels.pole_id }} is offline (last-will, or no message for longer "
        "than the offline threshold).",
        fires_when="`pole_health` says offline: last-will / status offline, or no message for "
        f"`{OFFLINE_AFTER_VARIABLE}` (default {DEFAULT_OFFLINE_AFTER})",
    ),
    AlertRule(
        uid="smartpole-sensor-stale",
        group="fleet",
        title="Sensor stale",
        sql=q.SENSOR_STALE,
        lookback_s=600,
        threshold=0,
        pending_for=AGREES_WITH_API_FOR,
        severity="warning",
        summary="Pole {{ $labels.pole_id }} is online but its {{ $labels.sensor }} sensor "
        "has sent nothing for longer than the stale threshold.",
        fires_when="`pole_health` lists the sensor as stale: the pole is online but one "
        f"installed family ({', '.join(c.value for c in Capability)}; one instance each) sent "
        "no reading for "
        f"`{STALE_SENSOR_AFTER_VARIABLE}` (default {DEFAULT_STALE_SENSOR_AFTER})",
    ),
    AlertRule(
        uid="smartpole-charger-faulted",
        group="fleet",
        title="Charger faulted",
        sql=q.CHARGER_FAULTED,
        lookback_s=600,
        threshold=0,
        pending_for="0s",
        severity="critical",
        summary="Connector {{ $labels.connector }} of {{ $labels.pole_id }} is faulted "
        "({{ $labels.error_code }}).",
        fires_when="`pole_health` lists the connector as faulted: its newest OCPP status is "
        "Faulted or it reports an error code other than NoError",
    ),
    AlertRule(
        uid="smartpole-lamp-defective",
        group="fleet",
        title="Lamp defective",
        sql=q.LAMP_DEFECTIVE,
        lookback_s=600,
        threshold=0,
        pending_for="15m",
        severity="warning",
        summary="Lamp at {{ $labels.pole_id }} reports {{ $labels.lamp_status }}.",
        fires_when="`pole_health` says lamp fault: the newest lamp status is not `ok`",
    ),
    AlertRule(
        uid="smartpole-lamp-day-burning",
        group="fleet",
        title="Lamp burning in daylight",
        sql=q.LAMP_DAY_BURNING,
        lookback_s=3600,
        threshold=0,
        pending_for="30m",
        severity="warning",
        summary="Lamp at {{ $labels.pole_id }} burns while the sun is up.",
        fires_when="lamp on or dimmed while the sun is more than "
        f"{DAY_BURNER_SUN_ELEVATION_DEG:g}° above the horizon at the pole",
    ),
)

# Every short-term EU standard in force gets a rule (the 2030 values are on the
# Environment dashboard, not paged).
AIR_QUALITY_RULES: tuple[AlertRule, ...] = tuple(
    _pollutant_rule(s) for s in counted_standards() if s.rule_set is RULE_SET_IN_FORCE
)
RULES: tuple[AlertRule, ...] = FLEET_RULES + AIR_QUALITY_RULES

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
        .labels({"team": "smartpole", "severity": rule.severity, **rule.labels})
        .annotations({"summary": rule.summary, "description": rule.fires_when})
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
