"""GET /v1/stream: live readings from the post-commit change feed, as Server-Sent
Events, against a real uvicorn server, a real PostgreSQL and the real writer.

No timing assertions: a test waits (with a generous guard) for an event or a
state the server reports, and checks what is true at that moment. "Nothing
arrived" is only ever asserted after something that must come later did."""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from api.deps import ApiState
from api.live_feed import Cursor, Interest, LiveFeed, StreamFilter
from api.routes import stream as stream_route
from api.schemas import License
from config.services import ApiSettings
from models.readings import MODEL_FOR_FAMILY
from models.topics import Family, PoleTopic
from storage.change_feed import FeedPosition
from storage.writer import ReadingWriter, ReceivedReading
from tests.api.conftest import Put, RunningApi, problem, register_pole, run_api
from tests.api.test_event_loop import wait_for

GUARD_S = 90.0  # how long a test waits for something that must come (never a measure)
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


@dataclass(frozen=True)
class Sse:
    event: str | None  # None: a message without an event type (an id-only heartbeat)
    id: str | None
    data: str
    comments: tuple[str, ...] = ()

    def json(self) -> Any:
        return json.loads(self.data)


class SseClient:
    """Reads one stream in a thread, parsing events as EventSource does."""

    def __init__(self, base_url: str, params: dict[str, str] | None = None,
                 last_event_id: str | None = None) -> None:  # fmt: skip
        self.events: queue.Queue[Sse | BaseException | None] = queue.Queue()
        self.status: int | None = None
        self.headers: httpx.Headers | None = None
        self.retry: int | None = None
        self._stop = threading.Event()
        self._opened = threading.Event()
        # As bytes: a hostile id need not be ASCII.
        headers = {"Last-Event-ID": last_event_id.encode()} if last_event_id is not None else {}
        self._thread = threading.Thread(
            target=self._read, args=(base_url, params or {}, headers), daemon=True
        )
        self._thread.start()
        assert self._opened.wait(GUARD_S), "the stream never answered"

    def _read(self, base_url: str, params: dict[str, str], headers: dict[str, bytes]) -> None:
        try:
            with (
                httpx.Client(base_url=base_url, timeout=GUARD_S) as http,
                http.stream("GET", "/v1/stream", params=params, headers=headers) as response,
            ):
                self.status = response.status_code
                self.headers = response.headers
                self._opened.set()
                if response.status_code != 200:
                    response.read()
                    self.body = response.text
                    return
                self._parse(response.iter_lines())
        except BaseException as exc:
            self._opened.set()
            self.events.put(exc)
        finally:
            self.events.put(None)

    def _parse(self, lines: Iterator[str]) -> None:
        event: str | None = None
        event_id: str | None = None
        data: list[str] = []
        comments: list[str] = []
        for line in lines:
            if self._stop.is_set():
                return
            if line == "":
                if data or event_id is not None or event is not None:
                    self.events.put(Sse(event, event_id, "\n".join(data), tuple(comments)))
                elif comments:
                    self.events.put(Sse("comment", None, "", tuple(comments)))
                event, event_id, data, comments = None, None, [], []
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                comments.append(value)
            elif name == "event":
                event = value
            elif name == "id":
                event_id = value
            elif name == "data":
                data.append(value)
            elif name == "retry":
                self.retry = int(value)

    def next(self, *, skip_heartbeats: bool = True) -> Sse | None:
        """The next event (None: the stream ended)."""
        deadline = time.monotonic() + GUARD_S
        while True:
            item = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            if isinstance(item, BaseException):
                raise item
            if item is None:
                return None
            if skip_heartbeats and item.event in (None, "comment"):
                continue
            return item

    def take(self, count: int) -> list[Sse]:
        got: list[Sse] = []
        while len(got) < count:
            item = self.next()
            assert item is not None, f"the stream ended after {len(got)} of {count} events"
            got.append(item)
        return got

    def heartbeat(self) -> Sse:
        """The next heartbeat; every event before it is returned by `pending`."""
        self.pending: list[Sse] = []
        while True:
            item = self.next(skip_heartbeats=False)
            assert item is not None, "the stream ended"
            if item.event in (None, "comment"):
                return item
            self.pending.append(item)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(GUARD_S)


@pytest.fixture
def stream_settings(api_settings: ApiSettings) -> ApiSettings:
    return api_settings.model_copy(
        update={
            "api_stream_poll_interval_s": 0.05,
            "api_stream_heartbeat_s": 0.2,
            "api_stream_retry_ms": 1500,
            # The response cache is on, as shipped: a stream must pass it by.
            "api_cache_ttl_s": 2.0,
        }
    )


@pytest.fixture
def server(stream_settings: ApiSettings) -> Iterator[RunningApi]:
    with run_api(stream_settings) as running:
        yield running


def env(minute: int, pm10: float = 10.0) -> dict[str, Any]:
    return {"dateObserved": (T0 + timedelta(minutes=minute)).isoformat(), "pm10": pm10}


def received(pole: str, family: Family, payload: dict[str, Any],
             connector: int | None = None) -> ReceivedReading:  # fmt: skip
    at = datetime.fromisoformat(payload["dateObserved"]) + timedelta(seconds=5)
    reading = MODEL_FOR_FAMILY[family].model_validate(payload, context={"received_at": at})
    return ReceivedReading(PoleTopic(pole, family, connector), reading, at)


def readings(events: list[Sse]) -> list[dict[str, Any]]:
    return [e.json() for e in events if e.event == "reading"]


def key(data: dict[str, Any]) -> tuple[str, str, str]:
    return (data["pole_id"], data["family"], data["observed_at"])


def open_stream(running: RunningApi, **params: str) -> SseClient:
    client = SseClient(running.url, params)
    assert client.status == 200
    client.heartbeat()  # live: everything committed from now on arrives
    return client


def test_readings_arrive_in_commit_order_named_as_latest_names_them(
    server: RunningApi, put: Put, db: psycopg.Connection[Any]
) -> None:
    register_pole(db, "P1", district="Mitte", capabilities=("env", "ev"))
    put("P1", Family.ENV, env(0))  # the registry's first-seen changes are behind us
    put("P1", Family.EV, {"dateObserved": T0.isoformat(), "status": "Available"}, connector=1)
    stream = open_stream(server)
    assert stream.headers is not None
    assert stream.headers["content-type"] == "text/event-stream"
    assert stream.headers["cache-control"] == "no-store"
    assert 'rel="license"' in stream.headers["link"]
    assert stream.retry == 1500
    put("P1", Family.ENV, [env(1, 11.0), env(2, 12.0)])
    put("P1", Family.EV, {"dateObserved": (T0 + timedelta(minutes=3)).isoformat(),
        "status": "Charging", "totalActiveEnergyImport": 7.5}, connector=2)  # fmt: skip
    put("P1", Family.ENV, env(3, 13.0))
    events = stream.take(4)
    stream.close()
    assert [e.event for e in events] == ["reading"] * 4
    data = readings(events)
    assert [(d["family"], d["values"].get("pm10")) for d in data] == [
        ("env", 11.0), ("env", 12.0), ("ev", None), ("env", 13.0)
    ]  # fmt: skip
    cursors = [Cursor.parse(e.id or "") for e in events]
    assert all(cursors) and cursors == sorted(cursors)  # type: ignore[type-var]
    assert len(set(cursors)) == 4
    assert data[0]["observed_at"] == (T0 + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    assert data[2]["connector_id"] == 2 and data[0]["connector_id"] is None
    with httpx.Client(base_url=server.url) as http:
        latest = http.get("/v1/poles/P1/latest").json()
    newest_env = {k: v for k, v in latest["env"].items() if k not in ("observed_at", "received_at")}
    assert data[3]["values"] == newest_env
    charger = next(c for c in latest["ev"] if c["connector_id"] == 2)
    assert data[2]["values"] == {
        k: v for k, v in charger.items() if k not in ("observed_at", "received_at", "connector_id")
    }


def test_a_status_event_names_the_poles_the_registry_changed(server: RunningApi, put: Put) -> None:
    stream = open_stream(server)
    put("NEW-1", Family.ENV, env(0))  # a pole never seen: the registry learns it
    events = stream.take(2)
    stream.close()
    assert [e.event for e in events] == ["reading", "status"]
    status = events[1].json()
    assert status["pole_ids"] == ["NEW-1"]
    assert datetime.fromisoformat(status["changed_at"]).tzinfo is not None


def test_resume_with_last_event_id_misses_nothing_even_a_batch_committed_late(
    server: RunningApi, database_url: str, put: Put
) -> None:
    stream = open_stream(server)
    put("P1", Family.ENV, [env(0), env(1), env(2)])
    first = stream.take(4)  # three readings, and the registry learning P1
    stream.close()
    # While the client is away: a slow worker's batch, begun first (its
    # transaction holds the older id), stays open while a fast one commits.
    with psycopg.connect(database_url) as slow_conn:
        slow = ReadingWriter(slow_conn)
        slow_conn.execute("SELECT pg_current_xact_id()")
        # (Another family and pole: the two batches share no read-model rows, so
        # neither waits for the other's locks.)
        wifi = {"dateObserved": (T0 + timedelta(minutes=10)).isoformat(), "status": "up",
                "connectedClients": 3}  # fmt: skip
        slow.write_batch([received("SLOW", Family.WIFI, wifi)], [])
        put("P1", Family.ENV, [env(3), env(4)])
        resumed = SseClient(server.url, last_event_id=first[-1].id)
        resumed.heartbeat()
        # Live, and the fast batch is committed, yet not announced: the slow
        # batch before it is still open.
        assert resumed.pending == []
        slow_conn.commit()
    late = resumed.take(4)
    resumed.close()
    assert [key(d)[0] for d in readings(late)] == ["SLOW", "P1", "P1"]
    assert [e.event for e in late] == ["reading", "status", "reading", "reading"]
    # Resuming from the middle of a batch gives its rest, then everything after.
    again = SseClient(server.url, last_event_id=first[0].id)
    rest = again.take(7)
    again.close()
    assert [e.id for e in rest] == [e.id for e in first[1:]] + [e.id for e in late]
    every = readings(first) + readings(late)
    assert len({key(d) for d in every}) == len(every) == 6


def test_a_heartbeat_id_resumes_after_a_quiet_while(server: RunningApi, put: Put) -> None:
    # The feed holds something before any heartbeat's position (a fresh, empty
    # feed resets every client: it cannot tell what it no longer holds).
    put("QUIET", Family.ENV, env(-1))
    stream = open_stream(server, pole_id="QUIET")
    put("OTHER", Family.ENV, env(0))  # not for this client, yet it moves the feed on
    beat = stream.heartbeat()
    for _ in range(int(GUARD_S / 0.2)):  # heartbeats come every 0.2 s
        if beat.id is not None:
            break
        beat = stream.heartbeat()
    stream.close()
    assert beat.event is None and beat.data == ""  # no event fires, only the id moves
    put("QUIET", Family.ENV, env(1))
    resumed = SseClient(server.url, {"pole_id": "QUIET"}, last_event_id=beat.id)
    events = resumed.take(1)
    resumed.close()
    assert [e.event for e in events] == ["reading"]
    assert readings(events)[0]["observed_at"].startswith(
        (T0 + timedelta(minutes=1)).isoformat()[:16]
    )


def test_nothing_is_pushed_for_a_rolled_back_batch(
    server: RunningApi, database_url: str, put: Put
) -> None:
    stream = open_stream(server)
    with psycopg.connect(database_url) as conn:
        writer = ReadingWriter(conn)
        with conn.transaction(force_rollback=True):
            result = writer.write_batch([received("GHOST", Family.ENV, env(0))], [])
            assert result.stored == 1  # stored, then rolled back
    put("P1", Family.ENV, env(1))  # committed after it: its events come later
    events = stream.take(2)
    stream.close()
    assert [(e.event, e.json()["pole_ids" if e.event == "status" else "pole_id"])
            for e in events] == [("reading", "P1"), ("status", ["P1"])]  # fmt: skip


def test_a_client_whose_position_the_feed_no_longer_keeps_is_told_to_reset(
    server: RunningApi, db: psycopg.Connection[Any], put: Put
) -> None:
    stream = open_stream(server)
    put("P1", Family.ENV, env(0))
    old = stream.take(1)[0]
    stream.close()
    put("P1", Family.ENV, env(1))
    db.execute("DELETE FROM change_feed")  # what ingest's pruning does after the retention
    resumed = SseClient(server.url, last_event_id=old.id)
    reset = resumed.next()
    assert reset is not None and reset.event == "reset"
    assert "refetch" in reset.json()["reason"] and reset.id
    put("P1", Family.ENV, env(2))  # live events follow the reset
    assert readings(resumed.take(1))[0]["observed_at"].startswith(
        (T0 + timedelta(minutes=2)).isoformat()[:16]
    )
    resumed.close()


@pytest.mark.parametrize(
    "last_event_id",
    ["garbage", "1.2.3.4", "-1.2", "99999999999999999999.1", "1e5.3", "٣.٣", "18446744.1.0"],
)
def test_a_last_event_id_that_is_not_ours_resets(server: RunningApi, last_event_id: str) -> None:
    client = SseClient(server.url, last_event_id=last_event_id)
    event = client.next()
    client.close()
    assert client.status == 200
    assert event is not None and event.event == "reset"


def test_filters_by_family_pole_and_district(
    server: RunningApi, put: Put, db: psycopg.Connection[Any]
) -> None:
    register_pole(db, "M1", district="Mitte")
    register_pole(db, "M2", district="Mitte")
    register_pole(db, "N1", district="Nord")
    for pole in ("M1", "M2", "N1"):
        put(pole, Family.ENV, env(0))
    by_family = open_stream(server, family="light")
    by_pole = open_stream(server, pole_id="M2")
    by_district = open_stream(server, district="Mitte")
    put("M1", Family.ENV, env(1))
    put("N1", Family.LIGHT, {"dateObserved": (T0 + timedelta(minutes=1)).isoformat(),
        "powerState": "on"})  # fmt: skip
    put("M2", Family.ENV, env(1))
    put("M1", Family.LIGHT, {"dateObserved": (T0 + timedelta(minutes=2)).isoformat(),
        "powerState": "off"})  # fmt: skip

    def poles(events: list[Sse]) -> list[tuple[str | None, str]]:
        return [
            (
                e.event,
                e.json()["pole_id"] if e.event == "reading" else ",".join(e.json()["pole_ids"]),
            )
            for e in events
        ]

    # Each sees its last event last: nothing else of what came before it can follow.
    assert poles(by_family.take(4)) == [
        ("reading", "N1"), ("status", "N1"), ("reading", "M1"), ("status", "M1")
    ]  # fmt: skip
    assert poles(by_pole.take(1)) == [("reading", "M2")]
    assert poles(by_district.take(4)) == [
        ("reading", "M1"), ("reading", "M2"), ("reading", "M1"), ("status", "M1")
    ]  # fmt: skip
    for client in (by_family, by_pole, by_district):
        client.close()


@pytest.mark.parametrize(
    "params",
    [
        {"family": "bogus"},
        {"family": "ENV"},
        {"pole_id": "../etc"},
        {"pole_id": "x" * 65},
        {"pole_id": ""},
        {"district": "Mitte\x00"},
        {"district": "x" * 101},
        {"district": "\n"},
    ],
)
def test_hostile_parameters_are_refused_as_problems(
    client: httpx.Client, params: dict[str, str]
) -> None:
    doc = problem(client.get("/v1/stream", params=params), 422)
    assert doc["errors"][0]["parameter"] in params


def test_an_overlong_last_event_id_is_refused(client: httpx.Client) -> None:
    problem(client.get("/v1/stream", headers={"Last-Event-ID": "1." + "9" * 200}), 422)


def metric(http: httpx.Client, name: str) -> float:
    text = http.get("/metrics", timeout=5).text
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


def test_a_slow_client_is_dropped_and_the_others_get_everything(
    monkeypatch: pytest.MonkeyPatch, stream_settings: ApiSettings, put: Put
) -> None:
    # Only the drop may end the slow stream here, not the stall timeout.
    monkeypatch.setattr(stream_route, "SEND_TIMEOUT_S", 3600.0)
    settings = stream_settings.model_copy(update={"api_stream_client_buffer": 100})
    # More than the kernel holds for a client that reads nothing (the server's
    # send buffer grows to net.ipv4.tcp_wmem's 4 MiB): 30,000 events of ~240 bytes.
    batches, per_batch = 60, 500
    with run_api(settings) as running, httpx.Client(base_url=running.url) as http:
        fast = open_stream(running)
        # The slow client asks for the stream and then reads nothing: its socket
        # (a small receive buffer), the server's socket and the stream's buffer
        # fill up.
        with socket.socket() as slow:
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before the handshake
            slow.connect(("127.0.0.1", running.port))
            slow.sendall(b"GET /v1/stream HTTP/1.1\r\nHost: test\r\n\r\n")
            wait_for(
                lambda: metric(http, "smartpole_api_streams") == 2, "both streams open", GUARD_S
            )
            for b in range(batches):
                put("P1", Family.ENV, [env(b * per_batch + m, float(m)) for m in range(per_batch)])
            events = fast.take(batches * per_batch + 1)  # and P1's first status
            wait_for(
                lambda: metric(http, "smartpole_api_stream_dropped_total") == 1, "a drop", GUARD_S
            )
            assert metric(http, "smartpole_api_streams") == 2  # told, not yet gone
            # The slow client reads at last: what it had, then the reason, then the end.
            seen = b""
            slow.settimeout(GUARD_S)
            while not seen.endswith(b"\r\n0\r\n\r\n"):
                part = slow.recv(65536)
                assert part, "closed before the end of the stream"
                seen += part
        fast.close()
    # The fast client got every reading, in order, and was never dropped.
    data = readings(events)
    assert len(data) == batches * per_batch
    assert [d["observed_at"] for d in data] == sorted(d["observed_at"] for d in data)
    assert not any(e.event == "dropped" for e in events)
    head, _, tail = seen.partition(b"event: dropped\ndata: ")
    assert tail and b"fell more than 100 events behind" in tail and b"event:" not in tail
    assert 0 < head.count(b"event: reading") < batches * per_batch


def test_the_number_of_streams_is_limited(stream_settings: ApiSettings) -> None:
    settings = stream_settings.model_copy(update={"api_stream_max_clients": 2})
    with run_api(settings) as running, httpx.Client(base_url=running.url) as http:
        first, second = open_stream(running), open_stream(running)
        refused = http.get("/v1/stream")
        doc = problem(refused, 503)
        assert "2 live streams" in doc["detail"]
        assert int(refused.headers["retry-after"]) >= 1
        assert metric(http, "smartpole_api_stream_refused_total") == 1
        first.close()
        wait_for(
            lambda: metric(http, "smartpole_api_streams") == 1, "the closed stream gone", GUARD_S
        )
        third = open_stream(running)
        assert metric(http, "smartpole_api_streams") == 2
        for client in (second, third):
            client.close()


def test_open_streams_end_when_the_server_shuts_down(stream_settings: ApiSettings) -> None:
    running = run_api(stream_settings).__enter__()
    client = open_stream(running)
    running.__exit__(None, None, None)
    assert not running.thread.is_alive(), "an open stream held the shutdown up"
    while (event := client.next(skip_heartbeats=False)) is not None:
        assert event.event in (None, "comment")
    client.close()


def test_a_client_that_accepts_nothing_is_disconnected(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    stream_settings: ApiSettings,
    put: Put,
) -> None:
    monkeypatch.setattr(stream_route, "SEND_TIMEOUT_S", 1.0)
    caplog.set_level(logging.INFO, logger="api.routes.stream")
    # A buffer that holds everything: the client is not dropped, it stalls the
    # stream's writes until they time out.
    settings = stream_settings.model_copy(update={"api_stream_client_buffer": 100_000})
    with (
        run_api(settings) as running,
        httpx.Client(base_url=running.url) as http,
        socket.socket() as stalled,
    ):
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", running.port))
        stalled.sendall(b"GET /v1/stream HTTP/1.1\r\nHost: test\r\n\r\n")
        wait_for(lambda: metric(http, "smartpole_api_streams") == 1, "the stream open", GUARD_S)
        for b in range(60):
            put("P1", Family.ENV, [env(b * 500 + m) for m in range(500)])
        wait_for(lambda: metric(http, "smartpole_api_streams") == 0, "the stream closed", GUARD_S)
        assert metric(http, "smartpole_api_stream_dropped_total") == 0
    assert "accepted nothing" in caplog.text
    assert "Exception in ASGI application" not in caplog.text


def test_a_resuming_stream_does_not_join_a_read_that_skips_what_it_wants() -> None:
    """The poller fetches only what its live streams want; a stream joining while
    such a read is under way would have the head moved past its events."""
    state = ApiState(settings=ApiSettings(), license=License(id="x", url="https://x.invalid"))
    feed = LiveFeed(state)
    feed.head = at = Cursor(FeedPosition(10, 0))
    env_only = feed.subscribe(StreamFilter(families=frozenset({Family.ENV})))
    light = feed.subscribe(StreamFilter(families=frozenset({Family.LIGHT})))
    everything = feed.subscribe(StreamFilter())
    assert env_only and light and everything
    feed._reading = Interest.of([env_only.filter])
    assert not feed.go_live(light, at)
    assert not feed.go_live(everything, at)
    assert feed.go_live(env_only, at)
    feed._reading = None
    assert feed.go_live(light, at)
    assert not feed.go_live(everything, Cursor(FeedPosition(9, 5), 3))  # behind the head
