"""What the publisher sends: every stored Observation of every family, on its
Datastream's topic, exactly as GET /sta/v1.1/Observations(<id>) renders it;
the newest one per Datastream retained; only the families switched on."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from config.services import StaPublisherSettings
from models.sensorthings.mapping import FAMILY_PROPERTIES
from models.sensorthings.observation import OBSERVATION_NAVIGATION
from models.topics import Family, datastream_observations_topic
from storage.queries.sta_entities import SETS
from tests.api.conftest import Put
from tests.sta_mqtt.conftest import MakePublisher, stored_observation_ids
from tests.support import samples
from tests.support.services import MosquittoServer, wait_until
from tests.support.sta_publisher import Consumer, PublisherProcess

Conn = psycopg.Connection[tuple[Any, ...]]
ALL = "v1.1/#"


def store_fleet(put: Put) -> None:
    for minute in range(0, 30, 10):
        put("A-1", Family.ENV, samples.env(minute))
        put("A-1", Family.LIGHT, samples.light(minute))
        put("A-2", Family.WIFI, samples.wifi(minute))
        for connector in (1, 2):
            put("A-2", Family.EV, samples.ev(minute), connector=connector)
    # A late reading (older than the newest): published, not retained.
    put("A-1", Family.ENV, samples.env(-60, pm10=99.0))


def test_every_observation_is_published_as_the_facade_renders_it(
    *,
    db: Conn,
    put: Put,
    client: httpx.Client,
    consumer: Consumer,
    make_publisher: MakePublisher,
    mosquitto: MosquittoServer,
) -> None:
    store_fleet(put)
    stored = stored_observation_ids(db)
    assert len(stored) == 4 * 9 + 3 * 3 + 3 * 3 + 6 * 2  # env, light, wifi, ev (2 connectors)
    assert consumer.subscribe(ALL) == "Granted QoS 1"
    publisher = make_publisher().start()
    wait_until(lambda: consumer.ids() >= stored, 60, "every stored observation published")
    publisher.stop()
    assert publisher.process is not None and publisher.process.returncode == 0
    received = consumer.observations()
    assert consumer.ids() == stored  # nothing that was not stored
    for topic, doc, _ in received:
        response = client.get(f"/sta/v1.1/Observations({doc['@iot.id']})")
        assert response.status_code == 200, response.text
        assert doc == response.json()
        datastream = client.get(f"/sta/v1.1/Observations({doc['@iot.id']})/Datastream").json()
        assert topic == datastream_observations_topic(datastream["@iot.id"])
    # The one renderer's relations are the facade's.
    assert tuple(n.name for n in SETS["Observations"].navs) == OBSERVATION_NAVIGATION

    # A client subscribing now gets the newest Observation of each of the 19
    # Datastreams (env 9, light 3, wifi 3, ev 2 per connector), not the late one.
    late = Consumer(mosquitto.consumer_endpoint, "late-consumer")
    try:
        late.subscribe(ALL)
        wait_until(lambda: len(late.observations()) >= 19, 20, "the retained observations")
        retained = {topic: doc for topic, doc, flag in late.observations() if flag}
        assert len(retained) == 19
        newest = samples.stamp(20).replace("+00:00", "Z")
        assert {doc["phenomenonTime"] for doc in retained.values()} == {newest}
    finally:
        late.close()


def test_only_the_switched_on_families_are_published(
    db: Conn, put: Put, consumer: Consumer, make_publisher: MakePublisher
) -> None:
    store_fleet(put)
    consumer.subscribe(ALL)
    publisher = make_publisher(sta_mqtt_families="light,wifi").start()
    wanted = {
        i
        for i in stored_observation_ids(db)
        if i % 32 in (10, 11, 12, 13, 14, 15)  # the light and wifi metric slots
    }
    wait_until(lambda: consumer.ids() >= wanted, 60, "light and wifi published")
    # The publisher moved past the env and ev entries too: its stored position
    # is the feed's last entry.
    wait_until(
        lambda: (
            db.execute(
                "SELECT (p.xid, p.seq) = (f.xid::text::bigint, f.seq) FROM sta_mqtt_position p, "
                "(SELECT xid, seq FROM change_feed ORDER BY xid DESC, seq DESC LIMIT 1) f"
            ).fetchone()
            == (True,)
        ),
        30,
        "position at the end of the feed",
    )
    publisher.stop()
    assert consumer.ids() == wanted
    assert all(d["result"] is not None for _, d, _ in consumer.observations())


@pytest.mark.parametrize(
    ("families", "accepted"),
    [
        ("env,light,wifi,ev", "env,light,wifi,ev"),
        (" light , light,", "light"),
        ("", ""),
        ("status", None),  # no Datastreams
        ("env,bogus", None),
        ("../../etc", None),
        ("x" * 10_000, None),
    ],
)
def test_family_setting_accepts_only_served_families(families: str, accepted: str | None) -> None:
    if accepted is None:
        with pytest.raises(ValueError, match="unknown families"):
            StaPublisherSettings(sta_mqtt_families=families)
    else:
        settings = StaPublisherSettings(sta_mqtt_families=families)
        assert settings.sta_mqtt_families == accepted


def test_default_publishes_every_family_the_facade_serves() -> None:
    assert StaPublisherSettings().published_families == frozenset(FAMILY_PROPERTIES)


@pytest.mark.parametrize("base", ["", "data.example.org/sta", "javascript:alert(1)", "  "])
def test_publisher_refuses_a_base_url_that_is_not_absolute(
    database_url: str, mosquitto: MosquittoServer, base: str, tmp_path: Any
) -> None:
    process = PublisherProcess(database_url, mosquitto, base, tmp_path / "p.log").start()
    assert process.process is not None
    assert process.process.wait(30) == 2
    assert "SMARTPOLE_STA_MQTT_BASE_URL" in process.log_text()
