"""docker-compose.yml, Dockerfile and mosquitto.conf, checked without a Docker
engine: pinned images, healthchecks, every smartpole variable known to the
settings, every mounted path present, every ${VAR} documented."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from config.services import IngestSettings, UpSettings
from tests.deploy.launch import REPO

COMPOSE = REPO / "docker-compose.yml"
SETTING_VARIABLES = {f"SMARTPOLE_{name.upper()}" for name in UpSettings.model_fields}
# A tag that names a release: digits and dots, optionally a suffix (-pg16, -slim-...).
PINNED_TAG = re.compile(r"^v?\d+(\.\d+)+(-[a-z0-9.-]+)?$")
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose["services"]
    return services


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    merged = {str(k): str(v) for k, v in env.items()}
    for env_file in service.get("env_file", []):
        for line in (REPO / env_file).read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, value = line.split("=", 1)
                merged.setdefault(key, value)
    return merged


def _is_smartpole(service: dict[str, Any]) -> bool:
    return "build" in service


def test_the_platform_services_are_all_there(compose: dict[str, Any]) -> None:
    assert {"timescaledb", "mosquitto", "migrate", "ingest", "api", "grafana"} <= set(
        _services(compose)
    )
    ingest = _services(compose)["ingest"]
    api = _services(compose)["api"]
    assert ingest["command"] == ["ingest"]
    assert api["command"] == ["api"]
    # Scalable: no fixed container name or published port on the workers.
    assert "container_name" not in ingest
    assert "ports" not in ingest


def test_third_party_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        if _is_smartpole(service):
            continue
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: image {image!r} has no tag"
        assert PINNED_TAG.match(tag), f"{name}: {image!r} is not pinned to a release"
    images = {s["image"].split(":")[0] for s in _services(compose).values() if "image" in s}
    assert {
        "timescale/timescaledb",
        "eclipse-mosquitto",
        "grafana/grafana",
        "prom/prometheus",
    } <= images


def test_dockerfile_base_image_is_pinned() -> None:
    bases = re.findall(r"^FROM\s+(\S+)", (REPO / "Dockerfile").read_text(), re.MULTILINE)
    assert bases
    for base in bases:
        assert PINNED_TAG.match(base.rpartition(":")[2]), base


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        if service.get("restart") == "no":  # one-shot jobs (migrate) finish instead
            continue
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"


def test_smartpole_services_set_only_known_settings(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        if not _is_smartpole(service):
            continue
        env = _environment(service)
        assert env, f"{name} has no environment"
        unknown = set(env) - SETTING_VARIABLES
        assert not unknown, f"{name} sets variables no setting reads: {unknown}"
        assert "SMARTPOLE_DATABASE_URL" in env
        assert "SMARTPOLE_MQTT_URL" in env


def test_grafana_gets_every_variable_its_provisioning_reads(compose: dict[str, Any]) -> None:
    provisioning = REPO / "dashboards" / "provisioning"
    wanted = {
        match[1]
        for path in provisioning.rglob("*.yaml")
        for match in INTERPOLATION.finditer(path.read_text())
    }
    env = _environment(_services(compose)["grafana"])
    assert wanted <= set(env), f"missing for Grafana: {wanted - set(env)}"


def test_mounted_paths_exist(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
    grafana_mounts = dict(v.split(":")[:2] for v in _services(compose)["grafana"]["volumes"])
    assert grafana_mounts["./dashboards/provisioning"] == "/etc/grafana/provisioning"
    for kind in ("datasources", "dashboards", "alerting"):
        assert list((REPO / "dashboards/provisioning" / kind).glob("*.yaml")), kind
    provider = yaml.safe_load(
        (REPO / "dashboards/provisioning/dashboards/smartpole.yaml").read_text()
    )
    dashboards_path = provider["providers"][0]["options"]["path"]
    assert grafana_mounts["./dashboards/json"] == dashboards_path
    assert list((REPO / "dashboards/json").glob("*.json"))


def test_every_interpolated_variable_is_documented_in_env_example() -> None:
    used = {match[1] for match in INTERPOLATION.finditer(COMPOSE.read_text())}
    example = {
        line.split("=", 1)[0]
        for line in (REPO / ".env.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert used == example, f"only in compose: {used - example}; unused: {example - used}"


def test_broker_lets_oversized_payloads_through_to_the_quarantine() -> None:
    directives = dict(
        line.split(None, 1)
        for line in (REPO / "mosquitto.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    limit_field = IngestSettings.model_fields["ingest_max_payload_bytes"]
    assert int(directives["message_size_limit"]) > int(limit_field.default)
    assert int(directives["max_queued_messages"]) >= 10**9  # no practical cap
    assert directives["max_queued_bytes"] == "0"
    assert directives["persistence"] == "true"


def test_the_image_holds_every_package_the_project_ships() -> None:
    """A package added to pyproject.toml but not copied into the image would make
    the container fail at its first import."""
    import tomllib  # noqa: PLC0415 - only this test reads pyproject.toml

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = set(re.findall(r"^COPY (\w+) \./\1$", (REPO / "Dockerfile").read_text(), re.MULTILINE))
    assert packages == copied


def test_the_shipped_broker_denies_anonymous_clients_and_listens_with_tls() -> None:
    lines = [
        line.split(None, 1)
        for line in (REPO / "mosquitto.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    values: dict[str, list[str]] = {}
    for name, value in lines:
        values.setdefault(name, []).append(value)
    assert values["allow_anonymous"] == ["false"]
    assert values["listener"] == ["1883", "8883"]
    assert values["plugin"] == ["/usr/lib/mosquitto_dynamic_security.so"]
    assert values["plugin_opt_config_file"] == ["/mosquitto/data/dynamic-security.json"]
    assert "password_file" not in values and "acl_file" not in values
    text = (REPO / "mosquitto.conf").read_text()
    tls = text[text.index("\nlistener 8883") :]
    assert "certfile /mosquitto/certs/server.crt" in tls and "keyfile" in tls


def test_the_broker_is_reached_from_outside_over_tls_only_and_ingest_by_its_own_identity(
    compose: dict[str, Any],
) -> None:
    services = _services(compose)
    assert services["mosquitto"]["ports"] == ["${MQTTS_PUBLISH:-8883}:8883"]
    assert services["mosquitto"]["depends_on"]["broker-init"] == {
        "condition": "service_completed_successfully"
    }
    assert "not authorised" in " ".join(services["mosquitto"]["healthcheck"]["test"])
    ingest = _environment(services["ingest"])
    assert ingest["SMARTPOLE_MQTT_URL"] == "mqtt://smartpole.ingest@mosquitto:1883"
    assert ingest["SMARTPOLE_MQTT_PASSWORD_FILE"].startswith("/run/smartpole-secrets/")
    # No broker password is written into the compose file or its environment.
    for name, service in services.items():
        for key, value in _environment(service).items():
            if key.startswith("SMARTPOLE_MQTT"):
                assert "@" not in value or ":" not in value.split("@")[0].split("//")[-1], name
    init = services["broker-init"]
    assert init["command"][:2] == ["broker", "init"] and "--if-missing" in init["command"]


def test_prometheus_scrapes_every_ingest_replica_and_the_api_and_loads_the_rules(
    compose: dict[str, Any],
) -> None:
    services = _services(compose)
    prometheus = services["prometheus"]
    mounts = dict(v.split(":")[:2] for v in prometheus["volumes"])
    assert mounts["./deploy/prometheus"] == "/etc/prometheus/smartpole"
    assert "--config.file=/etc/prometheus/smartpole/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/smartpole/alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    ingest = _environment(services["ingest"])
    port = int(ingest["SMARTPOLE_INGEST_METRICS_PORT"])
    assert ingest["SMARTPOLE_INGEST_METRICS_HOST"] == "0.0.0.0"  # noqa: S104 - in its container
    assert jobs["smartpole-ingest"]["dns_sd_configs"] == [
        {"names": ["ingest"], "type": "A", "port": port, "refresh_interval": "30s"}
    ]
    api_port = _environment(services["api"])["SMARTPOLE_API_PORT"]
    assert jobs["smartpole-api"]["static_configs"] == [{"targets": [f"api:{api_port}"]}]
    # The job names are the ones the alerting rules select.
    rules = (REPO / "deploy/prometheus/alerts.yml").read_text()
    assert 'job="smartpole-ingest"' in rules
    grafana = _environment(services["grafana"])
    assert grafana["SMARTPOLE_GRAFANA_PROMETHEUS_URL"] == "http://prometheus:9090"
