"""The response micro-cache (api/response_cache.py), against a live server and a
real database: what it keeps and for how long, what it never keeps, single
flight, stale-while-revalidate, If-None-Match, invalidation by admin writes,
and its bounds.

Database calls are counted by wrapping a storage query function (the real query
still runs); a delay inside the wrapper makes concurrent requests overlap for
certain. Each count is checked against a run without the cache, so a count of
one cannot come from requests that happened not to overlap."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from api.app import create_app
from api.response_cache import (
    MAX_ENTRY_BYTES,
    MAX_KEY_BYTES,
    CachedResponse,
    ResponseCache,
    storable,
)
from config.services import ApiSettings
from models.topics import Family
from storage.queries import poles as pole_queries
from storage.queries import series as series_queries
from tests.api.conftest import ADMIN_KEY, Put, RunningApi, problem, register_pole

START = datetime(2026, 5, 4, tzinfo=UTC)
SERIES = "/v1/poles/P1/series/env/pm10"
WEEK = {"from": START.isoformat(), "to": (START + timedelta(days=7)).isoformat()}


class ManualClock:
    """The response cache's clock, moved by the test instead of waited for."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def cached_api(
    database_url: str, ttl_s: float, clock: ManualClock | None = None
) -> Iterator[httpx.Client]:
    settings = ApiSettings(
        database_url=database_url,
        api_key=ADMIN_KEY,  # type: ignore[arg-type]
        api_pool_size=4,
        api_cache_ttl_s=ttl_s,
    )
    cache = ResponseCache(ttl_s, clock=clock) if clock is not None and ttl_s > 0 else None
    app = create_app(settings, response_cache=cache)
    with RunningApi(app) as running, httpx.Client(base_url=running.url, timeout=30) as http:
        yield http


class Calls:
    """Counts calls of a storage function (which still runs), optionally slowed down."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.count = 0
        self.delay_s = 0.0  # before the query runs
        self.delay_after_s = 0.0  # after it ran, before its rows are used
        self.gate = threading.Event()  # a call waits for it before it queries
        self.gate.set()
        self._lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.count += 1
        if not self.gate.wait(30):
            raise TimeoutError("the test never opened the gate")
        time.sleep(self.delay_s)
        result = self.real(*args, **kwargs)
        time.sleep(self.delay_after_s)
        return result


@pytest.fixture
def series_calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    calls = Calls(series_queries.fetch_series)
    monkeypatch.setattr(series_queries, "fetch_series", calls)
    return calls


@pytest.fixture
def pole_calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    calls = Calls(pole_queries.get_pole)
    monkeypatch.setattr(pole_queries, "get_pole", calls)
    return calls


def put_hours(put: Put, value: float, hours: range = range(24)) -> None:
    put(
        "P1",
        Family.ENV,
        [{"dateObserved": (START + timedelta(hours=h)).isoformat(), "pm10": value} for h in hours],
    )


def values(response: httpx.Response) -> list[float]:
    assert response.status_code == 200, response.text
    return [p["value"] for p in response.json()["points"]]


def get_all_at_once(base_url: str, path: str, n: int, **params: str) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            return list(await asyncio.gather(*(http.get(path, params=params) for _ in range(n))))

    return asyncio.run(run())


def test_a_hit_is_the_stored_answer(database_url: str, put: Put, series_calls: Calls) -> None:
    put_hours(put, 10.0)
    with cached_api(database_url, ttl_s=60) as http:
        first = http.get(SERIES, params=WEEK)
        again = http.get(SERIES, params=WEEK)
        assert first.headers["x-cache"] == "miss" and "age" not in first.headers
        assert again.headers["x-cache"] == "hit" and int(again.headers["age"]) >= 0
        assert again.content == first.content and values(again) == [10.0] * 24
        for header in ("etag", "cache-control", "link", "content-type", "content-length"):
            assert again.headers[header] == first.headers[header]
        assert series_calls.count == 1
        # Late data does not show until the entry expires: the answer is stored.
        put_hours(put, 30.0, range(24, 48))
        assert http.get(SERIES, params=WEEK).content == first.content
        assert series_calls.count == 1
        # Another query string is another answer.
        other = http.get(SERIES, params={**WEEK, "agg": "max"})
        assert other.headers["x-cache"] == "miss" and values(other) == [10.0] * 24 + [30.0] * 24


def test_entries_expire_then_refresh_in_the_background(
    database_url: str, put: Put, series_calls: Calls
) -> None:
    put_hours(put, 10.0)
    clock = ManualClock()
    with cached_api(database_url, ttl_s=1, clock=clock) as http:
        assert values(http.get(SERIES, params=WEEK)) == [10.0] * 24
        put_hours(put, 30.0, range(24, 48))
        clock.advance(1.2)
        # Expired, not yet two TTLs old: the old answer at once, refreshed behind it,
        # however slow the query. The refresh's query is held at the gate until both
        # stale answers are back, so they cannot have waited for it.
        series_calls.gate.clear()
        stale = http.get(SERIES, params=WEEK)
        also_stale = http.get(SERIES, params=WEEK)
        assert stale.headers["x-cache"] == also_stale.headers["x-cache"] == "stale"
        assert values(stale) == values(also_stale) == [10.0] * 24
        assert int(stale.headers["age"]) >= 1
        series_calls.gate.set()
        fresh = wait_for_refresh(http)
        assert values(fresh) == [10.0] * 24 + [30.0] * 24
        assert series_calls.count == 2  # one refresh for both stale answers
        # Older than two TTLs, an entry is never served: the request computes.
        put_hours(put, 50.0, range(48, 72))
        clock.advance(2.2)
        late = http.get(SERIES, params=WEEK)
        assert late.headers["x-cache"] == "miss"
        assert values(late) == [10.0] * 24 + [30.0] * 24 + [50.0] * 24


def wait_for_refresh(http: httpx.Client) -> httpx.Response:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        response = http.get(SERIES, params=WEEK)
        if response.headers["x-cache"] == "hit":
            return response
        time.sleep(0.05)
    raise AssertionError("the expired entry was not refreshed")


@pytest.mark.parametrize("ttl_s", [60, 0])
def test_concurrent_misses_share_one_query(
    database_url: str, put: Put, series_calls: Calls, ttl_s: float
) -> None:
    put_hours(put, 10.0)
    series_calls.delay_s = 0.3  # every request arrives while the first one computes
    n = 12
    with cached_api(database_url, ttl_s) as http:
        responses = get_all_at_once(str(http.base_url), SERIES, n, **WEEK)
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    if ttl_s == 0:  # the control: without the cache, every request queries
        assert series_calls.count == n
        assert all("x-cache" not in r.headers for r in responses)
        return
    assert series_calls.count == 1
    results = sorted(r.headers["x-cache"] for r in responses)
    assert results == ["miss"] + ["shared"] * (n - 1)


def test_errors_are_not_stored(database_url: str, db: psycopg.Connection[Any]) -> None:
    with cached_api(database_url, ttl_s=60) as http:
        problem(http.get("/v1/poles/LATE"), 404)
        register_pole(db, "LATE", district="Mitte")
        assert http.get("/v1/poles/LATE").json()["pole"]["district"] == "Mitte"
        for _ in range(2):
            bad = http.get("/v1/poles", params={"limit": "0"})
            problem(bad, 422)
            assert bad.headers["x-cache"] == "miss"


def test_health_metrics_admin_and_exports_bypass_the_cache(
    database_url: str, put: Put, db: psycopg.Connection[Any]
) -> None:
    put_hours(put, 10.0)
    with cached_api(database_url, ttl_s=60) as http:
        first = http.get("/health").json()
        put("P2", Family.ENV, {"dateObserved": START.isoformat(), "pm10": 1.0})
        assert http.get("/health").json()["poles"] == first["poles"] + 1
        metrics = [http.get("/metrics") for _ in range(2)]
        assert metrics[0].text != metrics[1].text  # the second counts the first
        key = {"X-API-Key": ADMIN_KEY}
        admin = [http.put("/v1/admin/poles/P9", json={"name": "x"}, headers=key) for _ in range(2)]
        assert [r.status_code for r in admin] == [201, 200]
        export = http.get(f"{SERIES}/export.csv", params=WEEK)
        assert export.status_code == 200 and export.text.count("\n") == 25
        for response in (*metrics, *admin, export, http.get("/health")):
            assert "x-cache" not in response.headers
        # A streamed answer (no Content-Length) passes through, even if public.
        geojson = [http.get("/v1/poles.geojson") for _ in range(2)]
        assert [r.headers["x-cache"] for r in geojson] == ["miss", "miss"]


def test_answers_larger_than_an_entry_pass_through(
    database_url: str, db: psycopg.Connection[Any], pole_calls: Calls
) -> None:
    db.execute(
        "INSERT INTO poles (pole_id, name, district, latitude, longitude, capabilities, notes) "
        "SELECT 'P' || lpad(n::text, 5, '0'), 'Pole number ' || n, 'District ' || n % 12, "
        "52.4, 13.3, '{env,light,wifi,ev}', repeat('n', 100) FROM generate_series(1, 4000) n"
    )
    with cached_api(database_url, ttl_s=60) as http:
        big = http.get("/v1/poles", params={"limit": "5000"})
        assert int(big.headers["content-length"]) > MAX_ENTRY_BYTES  # else this proves nothing
        db.execute("UPDATE poles SET name = 'renamed' WHERE pole_id = 'P00001'")
        again = http.get("/v1/poles", params={"limit": "5000"})
        assert [r.headers["x-cache"] for r in (big, again)] == ["miss", "miss"]
        assert again.json()["items"][0]["name"] == "renamed"
        # A small answer beside it is kept.
        small = [http.get("/v1/poles/P00001") for _ in range(2)]
        assert [r.headers["x-cache"] for r in small] == ["miss", "hit"]
        assert pole_calls.count == 1


def test_if_none_match_is_answered_from_the_cache(
    database_url: str, db: psycopg.Connection[Any]
) -> None:
    register_pole(db, "P1", district="Mitte")
    with cached_api(database_url, ttl_s=60) as http:
        first = http.get("/v1/poles/P1")
        etag = first.headers["etag"]
        hit = http.get("/v1/poles/P1", headers={"If-None-Match": f'W/{etag}, "other"'})
        assert hit.status_code == 304 and hit.content == b""
        assert hit.headers["x-cache"] == "hit" and hit.headers["etag"] == etag
        assert hit.headers["cache-control"] == first.headers["cache-control"]
        assert hit.headers["link"] == first.headers["link"] and "age" in hit.headers
        other = http.get("/v1/poles/P1", headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200 and other.content == first.content
        # On a miss (another Host is another entry) the answer is computed whole,
        # stored, and the client still gets its 304.
        host = {"Host": "mirror.example.org"}
        miss = http.get("/v1/poles/P1", headers={**host, "If-None-Match": etag})
        assert miss.status_code == 304 and miss.headers["x-cache"] == "miss"
        stored = http.get("/v1/poles/P1", headers=host)
        assert stored.headers["x-cache"] == "hit" and stored.content == first.content


def test_an_admin_write_clears_the_cache(database_url: str, db: psycopg.Connection[Any]) -> None:
    register_pole(db, "P1", district="Mitte")
    with cached_api(database_url, ttl_s=60) as http:
        assert http.get("/v1/poles/P1").json()["pole"]["district"] == "Mitte"
        assert http.get("/v1/poles/P1").headers["x-cache"] == "hit"
        # A refused write changes nothing and clears nothing.
        refused = http.patch("/v1/admin/poles/P1", json={"district": "Pankow"})
        problem(refused, 401)
        assert http.get("/v1/poles/P1").headers["x-cache"] == "hit"
        written = http.patch(
            "/v1/admin/poles/P1", json={"district": "Pankow"}, headers={"X-API-Key": ADMIN_KEY}
        )
        assert written.status_code == 200
        after = http.get("/v1/poles/P1")
        assert after.headers["x-cache"] == "miss" and after.json()["pole"]["district"] == "Pankow"


def test_an_answer_read_before_an_admin_write_is_not_stored(
    database_url: str, db: psycopg.Connection[Any], pole_calls: Calls
) -> None:
    register_pole(db, "P1", district="Mitte")
    pole_calls.delay_after_s = 0.5
    with cached_api(database_url, ttl_s=60) as http:
        before: list[httpx.Response] = []
        reader = threading.Thread(target=lambda: before.append(http.get("/v1/poles/P1")))
        reader.start()
        time.sleep(0.2)  # the reader has read "Mitte" and is still answering
        pole_calls.delay_after_s = 0
        written = http.patch(
            "/v1/admin/poles/P1", json={"district": "Pankow"}, headers={"X-API-Key": ADMIN_KEY}
        )
        assert written.status_code == 200
        reader.join()
        assert before[0].json()["pole"]["district"] == "Mitte"
        after = http.get("/v1/poles/P1")
        assert after.headers["x-cache"] == "miss" and after.json()["pole"]["district"] == "Pankow"


def test_the_key_holds_host_and_accept(database_url: str, db: psycopg.Connection[Any]) -> None:
    register_pole(db, "P1")
    register_pole(db, "P2")
    with cached_api(database_url, ttl_s=60) as http:
        # The body holds absolute next links: each host gets its own.
        for host in ("a.example.org", "b.example.org", "a.example.org"):
            page = http.get("/v1/poles", params={"limit": "1"}, headers={"Host": host}).json()
            assert page["next"].startswith(f"http://{host}/v1/poles?")
        json_ = http.get("/v1/poles", headers={"Accept": "application/json"})
        any_ = http.get("/v1/poles", headers={"Accept": "*/*"})
        assert json_.headers["x-cache"] == any_.headers["x-cache"] == "miss"


def test_hostile_urls_are_answered_but_never_stored(
    database_url: str, db: psycopg.Connection[Any]
) -> None:
    register_pole(db, "P1")
    with cached_api(database_url, ttl_s=60) as http:
        junk = {"junk": "x" * (MAX_KEY_BYTES + 1)}
        responses = [http.get("/v1/poles", params=junk) for _ in range(2)]
        assert [r.status_code for r in responses] == [200, 200]
        assert all("x-cache" not in r.headers for r in responses)
        for n in range(20):  # cache busting: each is its own entry, counted
            assert http.get("/v1/poles", params={"n": str(n)}).status_code == 200
        assert cache_gauge(http, "entries") == 20
        # Cache hits are counted under their route like any answer.
        http.get("/v1/poles", params={"n": "0"})
        metrics = http.get("/metrics").text
        assert 'smartpole_api_cache_requests_total{result="hit"} 1.0' in metrics
        assert 'smartpole_api_cache_requests_total{result="miss"} 20.0' in metrics
        assert 'route="/v1/poles",status="200"} 23.0' in metrics


def cache_gauge(http: httpx.Client, name: str) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith(f"smartpole_api_cache_{name} "):
            return float(line.split()[1])
    raise AssertionError(f"no smartpole_api_cache_{name} gauge")


# --- the store on its own ------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def entry(size: int, stored_at: float) -> CachedResponse:
    return CachedResponse(
        headers=[], body=b"x" * size, etag=None, stored_at=stored_at, size=size, route=None
    )


def key(n: int) -> tuple[str, bytes, str, bytes, bytes]:
    return ("http", b"host", f"/v1/poles/P{n}", b"", b"")


def test_the_store_is_an_lru_bounded_in_entries_and_bytes() -> None:
    clock = Clock()
    cache = ResponseCache(10, max_entries=3, max_bytes=1000, max_entry_bytes=600, clock=clock)
    for n in range(3):
        cache.put(key(n), entry(100, clock.now))
    assert cache.get(key(0), clock.now) is not None  # 0 is now the most recent
    cache.put(key(3), entry(100, clock.now))  # evicts 1, the least recently used
    assert [cache.get(key(n), clock.now) is not None for n in range(4)] == [
        True,
        False,
        True,
        True,
    ]
    cache.put(key(4), entry(600, clock.now))  # 900 + 600 bytes: evicts until it fits
    assert len(cache) <= 3 and cache.bytes <= 1000
    assert cache.get(key(4), clock.now) is not None
    cache.put(key(5), entry(601, clock.now))  # larger than an entry may be
    assert cache.get(key(5), clock.now) is None


def test_the_store_drops_entries_older_than_two_ttls() -> None:
    clock = Clock()
    cache = ResponseCache(10, clock=clock)
    cache.put(key(1), entry(10, clock.now))
    clock.now += 9.9
    found = cache.get(key(1), clock.now)
    assert found is not None and cache.is_fresh(found, clock.now)
    clock.now += 10  # expired: still servable as stale
    found = cache.get(key(1), clock.now)
    assert found is not None and not cache.is_fresh(found, clock.now)
    clock.now += 0.2  # two TTLs: gone
    assert cache.get(key(1), clock.now) is None and len(cache) == 0 and cache.bytes == 0
    generation = cache.generation
    cache.put(key(2), entry(10, clock.now))
    cache.clear()
    assert len(cache) == 0 and cache.generation == generation + 1


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (200, [(b"cache-control", b"public, max-age=30"), (b"content-length", b"10")], True),
        (404, [(b"cache-control", b"public, max-age=30"), (b"content-length", b"10")], False),
        (304, [(b"cache-control", b"public, max-age=30"), (b"content-length", b"0")], False),
        (200, [(b"cache-control", b"no-store"), (b"content-length", b"10")], False),
        (200, [(b"cache-control", b"public, no-cache"), (b"content-length", b"10")], False),
        (200, [(b"Cache-Control", b"Private, public"), (b"content-length", b"10")], False),
        (200, [(b"content-length", b"10")], False),  # not said to be public
        (200, [(b"cache-control", b"public")], False),  # streamed: no length
        (200, [(b"cache-control", b"public"), (b"content-length", b"11")], False),  # too big
        (200, [(b"cache-control", b"public"), (b"content-length", b"x")], False),
        (
            200,
            [(b"cache-control", b"public"), (b"content-length", b"1"), (b"set-cookie", b"a=b")],
            False,
        ),
        (200, [(b"cache-control", b"public"), (b"content-length", b"1"), (b"vary", b"*")], False),
    ],
)
def test_what_may_be_stored(
    status: int, headers: list[tuple[bytes, bytes]], expected: bool
) -> None:
    start = {"type": "http.response.start", "status": status, "headers": headers}
    assert storable(start, max_entry_bytes=10) is expected
