"""The shipped Prometheus configuration: rules and scrape config valid for
promtool, `promtool test rules` passing with a case per alert, and the
Operations dashboard's PromQL valid PromQL. scripts/bootstrap --tests installs
promtool (Debian's prometheus package); without it these skip locally and
fail in CI."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards.queries.operations import ALL as DASHBOARD_QUERIES
from tests.deploy.launch import REPO

PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
RULES = PROMETHEUS_DIR / "alerts.yml"
RULE_TESTS = PROMETHEUS_DIR / "alerts.test.yml"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: scripts/bootstrap --tests installs it")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return found


def run(promtool: str, *args: str, cwd: Path = PROMETHEUS_DIR) -> str:
    result = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def test_the_rules_are_valid(promtool: str) -> None:
    assert "SUCCESS" in run(promtool, "check", "rules", str(RULES))


def test_the_rules_pass_their_unit_tests(promtool: str) -> None:
    assert "SUCCESS" in run(promtool, "test", "rules", RULE_TESTS.name)


def test_every_alert_has_a_case_that_fires_it() -> None:
    alerts = {rule["alert"] for group in _load(RULES)["groups"] for rule in group["rules"]}
    assert alerts == {
        "SmartpoleIngestDown",
        "SmartpoleIngestNotCommitting",
        "SmartpoleIngestLagHigh",
        "SmartpoleQuarantineSpike",
        "SmartpoleDatabaseUnreachable",
        "SmartpoleDatabaseDiskHigh",
    }
    fired = {
        case["alertname"]
        for test in _load(RULE_TESTS)["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    quiet = {
        case["alertname"]
        for test in _load(RULE_TESTS)["tests"]
        for case in test["alert_rule_test"]
        if not case["exp_alerts"]
    }
    assert fired == alerts and quiet == alerts  # each fires once and stays quiet once


def test_the_scrape_config_is_valid(promtool: str, tmp_path: Path) -> None:
    config = _load(PROMETHEUS_DIR / "prometheus.yml")
    # In the container the rules sit at /etc/prometheus/smartpole; here, next to it.
    config["rule_files"] = [str(RULES)]
    checked = tmp_path / "prometheus.yml"
    checked.write_text(yaml.safe_dump(config))
    assert "SUCCESS" in run(promtool, "check", "config", str(checked))


def test_the_operations_dashboard_queries_are_valid_promql(promtool: str, tmp_path: Path) -> None:
    exprs = [s.expr for query in DASHBOARD_QUERIES.values() for s in query.series]
    assert len(exprs) >= 15
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"smartpole:dashboard_query_{n}",
                     "expr": expr.replace("$__rate_interval", "1m")}
                    for n, expr in enumerate(exprs)
                ],
            }
        ]
    }  # fmt: skip
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump(rules))
    assert "SUCCESS" in run(promtool, "check", "rules", str(path))
