"""What one client can do to the public API: rate limits per client address
(shared by all worker processes, cached answers included, trusted proxies
only), request size limits while parsing, and admin keys."""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from api import deps
from api.rate_limit import SharedBuckets, client_key
from config.services import ApiSettings
from tests.api.conftest import run_api
from tests.deploy.launch import REPO
from tests.support.services import free_port, wait_until


def limited_settings(database_url: str, **overrides: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "api_rate_limit_per_s": 1.0,
        "api_rate_limit_burst": 5,
        "api_cache_ttl_s": 30,  # answers from the cache count as much as computed ones
        **overrides,
    }
    return ApiSettings(**values)


def client_from(address: str, base_url: str) -> httpx.Client:
    return httpx.Client(
        base_url=base_url, transport=httpx.HTTPTransport(local_address=address), timeout=10
    )


def test_a_burst_beyond_the_limit_gets_429_others_are_unaffected_and_it_resets(
    database_url: str,
) -> None:
    with run_api(limited_settings(database_url)) as api, client_from("127.0.0.1", api.url) as http:
        answers = [http.get("/v1/poles?limit=5") for _ in range(5)]
        assert [a.status_code for a in answers] == [200] * 5
        assert answers[-1].headers["x-cache"] == "hit"
        refused = http.get("/v1/poles?limit=5")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        retry_after = int(refused.headers["retry-after"])
        assert retry_after >= 1
        body = refused.json()
        assert body["status"] == 429 and body["title"] == "Too many requests"
        assert "retry after" in body["detail"]
        assert http.get("/v1/ev/connectors").status_code == 429  # per client, not per URL
        # Monitoring is exempt.
        assert http.get("/health").status_code == 200
        assert "smartpole_api_rate_limited_total 2.0" in http.get("/metrics").text

        with client_from("127.0.0.2", api.url) as other:
            assert other.get("/v1/poles?limit=5").status_code == 200

        time.sleep(retry_after)
        assert http.get("/v1/poles?limit=5").status_code == 200


def test_x_forwarded_for_is_believed_from_a_trusted_proxy_only(database_url: str) -> None:
    settings = limited_settings(database_url, api_trusted_proxies="127.0.0.3")
    with run_api(settings) as api:
        with client_from("127.0.0.1", api.url) as liar:
            # Claiming another address each time does not buy new buckets.
            codes = [
                liar.get("/v1/poles", headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
                for n in range(7)
            ]
            assert codes == [200] * 5 + [429] * 2
        with client_from("127.0.0.3", api.url) as proxy:
            for client in ("203.0.113.7", "203.0.113.8"):
                codes = [
                    proxy.get("/v1/poles", headers={"X-Forwarded-For": client}).status_code
                    for _ in range(6)
                ]
                assert codes == [200] * 5 + [429], client


def test_ipv6_clients_share_a_bucket_per_64_and_ipv4_mapped_addresses_are_ipv4() -> None:
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("::ffff:192.0.2.1") == client_key("192.0.2.1")
    assert client_key(None) == client_key("")


def _take_many(path: str, count: int, granted: Any) -> None:
    buckets = SharedBuckets(Path(path), 1024)
    key = client_key("192.0.2.44")
    ok = sum(buckets.take(key, rate=0.001, burst=40) == 0.0 for _ in range(count))
    with granted.get_lock():
        granted.value += ok
    buckets.close()


def test_the_buckets_hold_across_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "buckets")
    context = multiprocessing.get_context("spawn")
    granted = context.Value("i", 0)
    workers = [context.Process(target=_take_many, args=(path, 100, granted)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert granted.value == 40  # one bucket for three processes, not 40 each


def test_smartpole_api_with_several_workers_enforces_one_limit(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTPOLE_")}
    env.update(
        SMARTPOLE_DATABASE_URL=database_url,
        SMARTPOLE_API_PORT=str(port),
        SMARTPOLE_API_WORKERS="2",
        SMARTPOLE_API_RATE_LIMIT_PER_S="0.01",
        SMARTPOLE_API_RATE_LIMIT_BURST="12",
    )
    log = (tmp_path / "api.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "smartpole.cli", "api"], cwd=REPO, env=env, stdout=log, stderr=log
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(f"{base}/health"), 60, "the API with two workers")
        codes = []
        for _ in range(30):  # a new connection each time: either worker may answer
            with httpx.Client(base_url=base, timeout=10) as http:
                codes.append(http.get("/v1/poles").status_code)
        assert codes.count(200) == 12 and codes.count(429) == 18, codes
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    assert "Traceback" not in (tmp_path / "api.log").read_text()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False


def test_the_spec_documents_429_with_retry_after(database_url: str) -> None:
    with run_api(limited_settings(database_url)) as api, httpx.Client(base_url=api.url) as http:
        spec = http.get("/openapi.json").json()
    poles = spec["paths"]["/v1/poles"]["get"]["responses"]["429"]
    assert "application/problem+json" in poles["content"]
    assert "Retry-After" in poles["headers"]
    assert "429" not in spec["paths"]["/health"]["get"]["responses"]


def raw_request(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b"connection: close" in b"".join(chunks):
                break
        return b"".join(chunks)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /v1/poles?x=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", b"414"),
        (b"GET /v1/poles HTTP/1.1\r\nHost: t\r\nX-Big: " + b"b" * 17000 + b"\r\n\r\n", b"431"),
        (b"GET /v1/poles HTTP/1.1\r\nHost: t\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", b"431"),
    ],
    ids=["request line", "header bytes", "header count"],
)
def test_oversized_requests_are_refused_while_parsing(
    database_url: str, request_bytes: bytes, status: bytes
) -> None:
    with run_api(limited_settings(database_url, api_rate_limit_per_s=0)) as api:
        answer = raw_request(api.port, request_bytes)
        assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
        fine = raw_request(
            api.port, b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        assert fine.startswith(b"HTTP/1.1 200"), fine[:200]


POLE = {"name": "Marktplatz 3", "district": "Altstadt", "capabilities": ["light"]}


def test_named_hashed_admin_keys_each_work_and_failures_are_counted(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    keys = {"gis-sync": "k-gis-" + "1" * 30, "ops": "k-ops-" + "2" * 30}
    entries = ",".join(f"{n}:{hashlib.sha256(k.encode()).hexdigest()}" for n, k in keys.items())
    settings = ApiSettings(database_url=database_url, api_admin_keys=entries, api_cache_ttl_s=0)
    assert keys["ops"] not in repr(settings)
    caplog.set_level(logging.INFO, logger="api.routes.admin")
    with run_api(settings) as api, httpx.Client(base_url=api.url) as http:
        for name, key in keys.items():
            answer = http.put(f"/v1/admin/poles/K-{name}", json=POLE, headers={"X-API-Key": key})
            assert answer.status_code == 201, answer.text
            assert f"by admin-key:{name}" in caplog.text
            history = http.get(f"/v1/admin/poles/K-{name}/history", headers={"X-API-Key": key})
            assert [e["changed_by"] for e in history.json()["items"]] == [f"admin-key:{name}"]
        assert http.put("/v1/admin/poles/K-1", json=POLE).status_code == 401
        for wrong in ("k-ops-", keys["ops"] + "x", keys["ops"].upper(), "ü".encode() * 40):
            answer = http.put("/v1/admin/poles/K-1", json=POLE, headers={"X-API-Key": wrong})
            assert answer.status_code == 403
        metrics = http.get("/metrics").text
    assert 'smartpole_api_admin_auth_failures_total{reason="missing"} 1.0' in metrics
    assert 'smartpole_api_admin_auth_failures_total{reason="wrong"} 4.0' in metrics


def test_the_key_is_compared_with_every_configured_key(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = deps.hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(b)
        return real(a, b)

    monkeypatch.setattr(deps.hmac, "compare_digest", counting)
    keys = {f"k{n}": hashlib.sha256(f"key-{n}".encode()).digest() for n in range(4)}
    assert deps.matching_key("key-0", keys) == "k0"
    assert len(calls) == 4  # no early exit on the first match
    assert deps.matching_key("key-9", keys) is None


def test_new_key_prints_a_key_and_the_entry_that_admits_it() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTPOLE_")}
    result = subprocess.run(
        [sys.executable, "-m", "smartpole.cli", "api", "new-key", "field-tablet"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    key = result.stdout.split("it is not stored anywhere): ", 1)[1].split()[0]
    entry = result.stdout.rsplit("(comma-separated): ", 1)[1].strip()
    settings = ApiSettings(api_admin_keys=entry)
    assert deps.matching_key(key, settings.admin_keys()) == "field-tablet"
    assert len(key) >= 40
