"""The facade read by the unmodified `frost-sta-client` from PyPI, as researchers
and city data platforms use it: list Things with expand and filter, follow
nextLinks through a few thousand Observations, find a Datastream and page its
Observations, $count."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import frost_sta_client as fsc
import httpx
import pytest

from models.topics import Family
from tests.api.conftest import Put, register_pole
from tests.sta.conftest import RAW, START, Fleet, env_payloads

MANY = 2500
# The client (not our code) uses furl's deprecated pathstr.
pytestmark = pytest.mark.filterwarnings("ignore:furl.pathstr is deprecated:DeprecationWarning")


@pytest.fixture
def service(client: httpx.Client) -> Any:
    return fsc.SensorThingsService(str(client.base_url).rstrip("/") + "/sta/v1.1")


@pytest.fixture
def busy_pole(fleet: Fleet, db: Any, put: Put) -> str:
    register_pole(db, "P9", district="Mitte", lat=52.51, lon=13.39, capabilities=("env",))
    put("P9", Family.ENV, env_payloads(START, MANY, timedelta(minutes=1)))
    return "P9"


def test_things_with_expand_and_filter(service: Any, fleet: Fleet) -> None:
    things = (
        service.things()
        .query()
        .expand(f"Locations,Datastreams($filter=properties/metric eq 'no2' and {RAW})")
        .filter("properties/district eq 'Mitte'")
        .list()
    )
    found = {t.name: t for t in things}
    assert sorted(found) == ["P1", "P2"]
    p1 = found["P1"]
    assert p1.properties["district"] == "Mitte"
    (location,) = p1.locations.entities
    assert location.location["coordinates"] == [13.40, 52.52]
    (stream,) = p1.datastreams.entities
    assert stream.unit_of_measurement.symbol == "µg/m³"
    assert stream.name == "NO2 at pole P1"


def test_next_links_through_thousands_of_observations(service: Any, busy_pole: str) -> None:
    (stream,) = (
        service.datastreams()
        .query()
        .filter(f"properties/poleId eq '{busy_pole}' and properties/metric eq 'pm10' and {RAW}")
        .list()
        .entities
    )
    observations = stream.get_observations().query().top(200).orderby("phenomenonTime", "ASC")
    seen = [o.id for o in observations.list()]
    # Every stored value once: none lost, none repeated, across 13 pages.
    assert len(seen) == len(set(seen)) == MANY
    newest_first = stream.get_observations().query().top(300).list()
    ids = [o.id for o in newest_first]
    assert sorted(ids) == sorted(seen)
    every = service.observations().query().top(1000).list()
    all_ids = [o.id for o in every]
    assert len(all_ids) == len(set(all_ids)) and set(seen) <= set(all_ids)


def test_find_a_datastream_and_page_its_observations(service: Any, busy_pole: str) -> None:
    streams = (
        service.datastreams()
        .query()
        .filter(f"Thing/name eq 'P9' and ObservedProperty/name eq 'PM2.5' and {RAW}")
        .list()
    )
    (stream,) = streams.entities
    same = service.datastreams().find(stream.id)
    assert same.name == stream.name == "PM2.5 at pole P9"
    page = stream.get_observations().query().top(100).skip(200).list()
    assert len(page.entities) == 100
    assert page.entities[0].result == 5.0 + 200 % 5


def test_count(service: Any, busy_pole: str, fleet: Fleet) -> None:
    things = service.things().query().count().top(1).list()
    assert things.count == 4
    (stream,) = (
        service.datastreams().query()
        .filter(f"properties/poleId eq '{busy_pole}' and properties/metric eq 'no2' and {RAW}")
        .list().entities
    )  # fmt: skip
    observations = stream.get_observations().query().count().top(1).list()
    assert observations.count == MANY
