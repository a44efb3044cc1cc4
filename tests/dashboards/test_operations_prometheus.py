"""The Operations dashboard's PromQL against a real Prometheus (Debian's package)
scraping a running ingest worker and API, with the shipped alerting rules
loaded: every query answers with data, and the figures are the ones stored."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml

from config.services import ApiSettings
from dashboards.queries.operations import ALL as DASHBOARD_QUERIES
from tests.api.conftest import run_api
from tests.deploy.launch import REPO
from tests.support import samples
from tests.support.ingest_process import IngestProcess
from tests.support.mqtt import TestPublisher
from tests.support.services import MosquittoServer, free_port, wait_until

RATE_WINDOW = "5m"  # stands in for Grafana's $__rate_interval


@pytest.fixture
def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is missing: scripts/bootstrap --tests installs it")
        pytest.skip("prometheus not installed (apt-get install prometheus)")
    return found


class Prometheus:
    def __init__(self, binary: str, folder: Path, targets: dict[str, str]) -> None:
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(REPO / "deploy/prometheus/alerts.yml")],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": [target]}]}
                for job, target in targets.items()
            ],
        }
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = folder / "prometheus.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={folder / 'prometheus.yml'}",
                    f"--storage.tsdb.path={folder / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=log,
            )

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = httpx.get(
            f"http://127.0.0.1:{self.port}/api/v1/query", params={"query": expr}, timeout=10
        ).json()
        assert answer["status"] == "success", (expr, answer)
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def ready(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/-/ready", timeout=2).status_code == 200
        except httpx.TransportError:
            assert self.process.poll() is None, self.log.read_text()[-2000:]
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def platform(
    prometheus_binary: str,
    database_url: str,
    mosquitto: MosquittoServer,
    tmp_path: Path,
) -> Iterator[tuple[Prometheus, str]]:
    metrics_port = free_port()
    ingest = IngestProcess(
        database_url,
        mosquitto.url,
        tmp_path / "ingest.log",
        ingest_metrics_port=metrics_port,
        database_disk_capacity_bytes=10**12,
    )
    ingest.start()
    settings = ApiSettings(database_url=database_url, api_cache_ttl_s=0, api_pool_size=2)
    prometheus: Prometheus | None = None
    try:
        wait_until(lambda: "subscribed to" in ingest.log_text(), 30, "ingest subscription")
        with run_api(settings) as api:
            prometheus = Prometheus(
                prometheus_binary,
                tmp_path,
                {
                    "smartpole-ingest": f"127.0.0.1:{metrics_port}",
                    "smartpole-api": f"127.0.0.1:{api.port}",
                },
            )
            wait_until(prometheus.ready, 60, "Prometheus to start")
            yield prometheus, api.url
    finally:
        if prometheus is not None:
            prometheus.stop()
        ingest.stop()


def test_every_operations_query_answers_with_what_ingest_and_the_api_did(
    platform: tuple[Prometheus, str], publisher: TestPublisher, db: psycopg.Connection[Any]
) -> None:
    prometheus, api_url = platform
    wait_until(
        lambda: [float(r["value"][1]) for r in prometheus.query("up")] == [1.0, 1.0],
        60,
        "both targets scraped",
    )
    env = samples.topic("OPS-1", "env")
    publisher.publish_all([(env, samples.env(m)) for m in range(30)])
    publisher.publish_all([(env, b"{broken"), (env, b"[")])
    for _ in range(5):
        httpx.get(f"{api_url}/v1/poles", timeout=10)
    wait_until(
        lambda: db.execute("SELECT count(*) FROM env_readings").fetchone() == (30,),
        30,
        "the readings stored",
    )

    def scraped_after_commit() -> bool:
        found = prometheus.query("sum(smartpole_ingest_readings_stored_total)")
        return bool(found) and float(found[0]["value"][1]) == 30

    wait_until(scraped_after_commit, 30, "Prometheus to have scraped the commit")

    def answers() -> dict[str, list[dict[str, Any]]]:
        return {
            f"{name}/{series.legend}": prometheus.query(
                series.expr.replace("$__rate_interval", RATE_WINDOW)
            )
            for name, query in DASHBOARD_QUERIES.items()
            for series in query.series
        }

    # rate() needs two samples inside its window after the event: wait for every
    # query to have an answer rather than for a time.
    results: dict[str, list[dict[str, Any]]] = {}

    def all_answered() -> bool:
        results.update(answers())
        return all(results.values())

    try:
        wait_until(all_answered, 60, "every dashboard query to have data", interval=1)
    except TimeoutError:
        empty = [label for label, result in results.items() if not result]
        raise AssertionError(f"queries without data: {empty}") from None

    def value(label: str) -> float:
        return float(results[label][0]["value"][1])

    assert value("WORKERS_UP/workers up") == 1
    assert value("DATABASE_SIZE/disk") == 10**12
    assert value("DATABASE_SIZE/database") > 1_000_000
    assert value("RECONNECTS/database up (all workers)") == 1
    assert {r["metric"]["reason"] for r in results["QUARANTINED/{{reason}}"]} == {"malformed_json"}
    assert {r["metric"]["status"] for r in results["API_REQUESTS/{{status}}"]} >= {"200"}
    assert value("SINCE_LAST_COMMIT/since commit") >= 0
    # the shipped rules loaded, and none fires on a healthy platform
    rules = httpx.get(f"http://127.0.0.1:{prometheus.port}/api/v1/rules", timeout=10).json()
    loaded = {r["name"] for g in rules["data"]["groups"] for r in g["rules"]}
    assert "SmartpoleIngestNotCommitting" in loaded and len(loaded) == 6
    firing = httpx.get(f"http://127.0.0.1:{prometheus.port}/api/v1/alerts", timeout=10).json()
    alerts = firing["data"]["alerts"]
    assert [a["labels"]["alertname"] for a in alerts if a["state"] == "firing"] == []
