"""The SensorThings facade's resources against the real database: the service
root, every entity set, resource paths, $value, $ref, paging, $count, $select,
$orderby, nested $expand, and every error code."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest

from models.catalogue.families import ENV, FAMILIES
from models.sensorthings.ids import MAX_ID
from models.sensorthings.mapping import CONFORMANCE, ENTITY_SETS, OBSERVED_PROPERTIES
from models.topics import Family
from tests.sta.conftest import RAW, Fleet, error, get


def base(client: httpx.Client) -> str:
    return str(client.base_url).rstrip("/")


def datastream(client: httpx.Client, pole: str, metric: str) -> int:
    f = f"properties/poleId eq '{pole}' and properties/metric eq '{metric}' and {RAW}"
    ident: int = get(client, "Datastreams", **{"$filter": f})["value"][0]["@iot.id"]
    return ident


def follow(client: httpx.Client, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    return doc


def test_the_service_root_lists_every_set_with_absolute_urls(client: httpx.Client) -> None:
    root = get(client, "")
    assert [e["name"] for e in root["value"]] == list(ENTITY_SETS)
    for entry in root["value"]:
        assert entry["url"] == f"{base(client)}/sta/v1.1/{entry['name']}"
    conformance = root["serverSettings"]["conformance"]
    assert conformance == list(CONFORMANCE)
    # Read-only and without the MQTT extension: neither is claimed.
    assert not any("create-update-delete" in c or "mqtt" in c.lower() for c in conformance)


def test_things_are_poles_with_registry_properties(client: httpx.Client, fleet: Fleet) -> None:
    things = get(client, "Things")["value"]
    assert [t["name"] for t in things] == ["P1", "P2", "P3"]
    p1 = things[0]
    assert p1["properties"]["district"] == "Mitte"
    assert set(p1["properties"]["capabilities"]) == {"env", "light", "ev"}
    assert p1["@iot.selfLink"].endswith(f"/Things({p1['@iot.id']})")
    location = get(client, f"Things({p1['@iot.id']})/Locations")["value"][0]
    assert location["encodingType"] == "application/geo+json"
    assert location["location"] == {"type": "Point", "coordinates": [13.40, 52.52]}
    foi = get(client, f"FeaturesOfInterest({p1['@iot.id']})")
    assert foi["feature"] == location["location"]


def test_observed_properties_use_the_eea_vocabulary_for_pollutants(client: httpx.Client) -> None:
    props = {p["name"]: p for p in get(client, "ObservedProperties", **{"$top": 100})["value"]}
    assert len(props) >= len({d.field.label for d in OBSERVED_PROPERTIES.values()}) - 1
    eea = "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/"
    assert props["PM10"]["definition"] == eea + "5"
    assert props["PM2.5"]["definition"] == eea + "6001"
    assert props["NO2"]["definition"] == eea + "8"
    assert props["O3"]["definition"] == eea + "7"
    assert props["Air temperature"]["definition"].startswith("http://qudt.org/vocab/quantitykind/")
    sensors = get(client, "Sensors")["value"]
    families = (Family.ENV, Family.LIGHT, Family.WIFI, Family.EV)
    assert {s["name"] for s in sensors} == {FAMILIES[f].sensor for f in families}


def test_datastreams_carry_unit_type_area_and_time(client: httpx.Client, fleet: Fleet) -> None:
    raw_p1 = f"properties/poleId eq 'P1' and {RAW}"
    streams = get(client, "Datastreams", **{"$filter": raw_p1, "$top": 50})
    by_metric = {d["properties"]["metric"]: d for d in streams["value"]}
    pm10 = by_metric["pm10"]
    unit = ENV.field("pm10").unit
    assert unit is not None
    assert pm10["unitOfMeasurement"] == {
        "name": unit.name,
        "symbol": unit.symbol,
        "definition": unit.definition,
    }
    assert pm10["observationType"].endswith("OM_Measurement")
    assert pm10["observedArea"] == {"type": "Point", "coordinates": [13.40, 52.52]}
    assert pm10["phenomenonTime"] == "2026-06-01T00:00:00Z/2026-06-01T05:50:00Z"
    # EV: one Datastream per connector and metric.
    ev = get(client, "Datastreams", **{"$filter": f"properties/family eq 'ev' and {RAW}"})["value"]
    assert sorted((d["properties"]["connectorId"], d["properties"]["metric"]) for d in ev) == [
        (1, "charging_power"), (1, "total_active_energy_import"),
        (2, "charging_power"), (2, "total_active_energy_import"),
    ]  # fmt: skip


def test_resource_paths_properties_value_and_ref(client: httpx.Client, fleet: Fleet) -> None:
    thing = get(client, "Things", **{"$filter": "name eq 'P2'"})["value"][0]
    tid = thing["@iot.id"]
    assert get(client, f"Things({tid})/name") == {"name": "P2"}
    value = client.get(f"/sta/v1.1/Things({tid})/name/$value")
    assert value.status_code == 200 and value.text == "P2"
    assert value.headers["content-type"].startswith("text/plain")
    streams = get(client, f"Things({tid})/Datastreams", **{"$top": 100})["value"]
    assert {d["properties"]["poleId"] for d in streams} == {"P2"}
    ds = streams[0]["@iot.id"]
    nested = get(client, f"Things({tid})/Datastreams({ds})")
    assert nested["@iot.id"] == ds
    assert get(client, f"Datastreams({ds})/Thing")["@iot.id"] == tid
    observations = get(client, f"Things({tid})/Datastreams({ds})/Observations", **{"$top": 5})
    assert len(observations["value"]) == 5
    refs = get(client, f"Things({tid})/Datastreams/$ref", **{"$top": 100})["value"]
    assert refs == [{"@iot.selfLink": d["@iot.selfLink"]} for d in streams]
    assert get(client, f"Datastreams({ds})/Thing/$ref") == {"@iot.selfLink": thing["@iot.selfLink"]}
    obs = observations["value"][0]
    again = get(client, f"Observations({obs['@iot.id']})")
    assert again == obs
    assert get(client, f"Observations({obs['@iot.id']})/Datastream")["@iot.id"] == ds
    assert get(client, f"Observations({obs['@iot.id']})/FeatureOfInterest")["@iot.id"] == tid
    # A Datastream of another Thing is not under this one.
    other = get(client, "Datastreams", **{"$filter": "properties/poleId eq 'P1'"})["value"][0]
    error(client, f"Things({tid})/Datastreams({other['@iot.id']})", 404)


def test_history_of_positions_is_historical_locations(
    client: httpx.Client, fleet: Fleet, db: psycopg.Connection[Any]
) -> None:
    db.execute(
        "INSERT INTO pole_registry_history (pole_id, changed_by, source, changes) VALUES "
        "('P1', 'test', 'admin-api', '{\"latitude\": {\"old\": 52.5, \"new\": 52.52}}'),"
        "('P1', 'test', 'admin-api', '{\"district\": {\"old\": null, \"new\": \"Mitte\"}}')"
    )
    tid = get(client, "Things", **{"$filter": "name eq 'P1'"})["value"][0]["@iot.id"]
    history = get(client, f"Things({tid})/HistoricalLocations")["value"]
    assert len(history) == 1
    assert get(client, f"HistoricalLocations({history[0]['@iot.id']})/Thing")["@iot.id"] == tid
    locations = get(client, f"HistoricalLocations({history[0]['@iot.id']})/Locations")["value"]
    assert [loc["@iot.id"] for loc in locations] == [tid]


def test_next_links_page_by_keyset_without_loss(client: httpx.Client, fleet: Fleet) -> None:
    ds = datastream(client, "P1", "pm10")
    seen: list[int] = []
    url: str | None = f"{base(client)}/sta/v1.1/Datastreams({ds})/Observations?$top=7"
    pages = 0
    while url:
        page = follow(client, url)
        seen += [o["@iot.id"] for o in page["value"]]
        url = page.get("@iot.nextLink")
        if url:
            query = parse_qs(urlsplit(url).query)
            # FROST clients read $top and $skip; the token pages underneath.
            assert query["$top"] == ["7"] and query["$skip"] == [str(7 * (pages + 1))]
            assert "$skiptoken" in query
            assert url.startswith(base(client) + "/sta/v1.1/")
        pages += 1
    assert len(seen) == len(set(seen)) == fleet.env_readings
    times = [o["phenomenonTime"] for o in get(client, f"Datastreams({ds})/Observations",
                                              **{"$top": 1000})["value"]]  # fmt: skip
    assert times == sorted(times)
    # A hand-written $skip is an offset.
    skipped = get(client, f"Datastreams({ds})/Observations", **{"$skip": 30, "$top": 100})
    assert [o["@iot.id"] for o in skipped["value"]] == seen[30:]
    error(client, "Observations", 400, **{"$skip": 10**9})


def test_global_observations_page_through_every_family(client: httpx.Client, fleet: Fleet) -> None:
    total = get(client, "Observations", **{"$count": "true", "$top": 1})["@iot.count"]
    seen: list[int] = []
    url: str | None = f"{base(client)}/sta/v1.1/Observations?$top=50"
    while url:
        page = follow(client, url)
        seen += [o["@iot.id"] for o in page["value"]]
        url = page.get("@iot.nextLink")
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == total
    # 3 poles x 36 env readings x 4 metrics; light 6 x 2; EV 2 connectors x 6 x 2.
    assert total == 3 * 36 * 4 + 6 * 2 + 2 * 6 * 2


def test_count_is_exact_for_datastreams_and_filters(client: httpx.Client, fleet: Fleet) -> None:
    ds = datastream(client, "P3", "no2")
    page = get(client, f"Datastreams({ds})/Observations", **{"$count": "true", "$top": 2})
    assert page["@iot.count"] == fleet.env_readings
    assert "@smartpole.countExact" not in page
    filtered = get(client, f"Datastreams({ds})/Observations",
                   **{"$count": "true", "$filter": "result ge 25"})  # fmt: skip
    expected = sum(1 for i in range(fleet.env_readings) if 20 + i % 11 >= 25)
    assert filtered["@iot.count"] == expected == len(filtered["value"])
    assert get(client, "Things", **{"$count": "true"})["@iot.count"] == 3
    assert "@iot.count" not in get(client, "Things")


def test_select_and_orderby(client: httpx.Client, fleet: Fleet) -> None:
    things = get(client, "Things", **{"$select": "id,name", "$orderby": "name desc"})["value"]
    assert things == [{"@iot.selfLink": t["@iot.selfLink"], "@iot.id": t["@iot.id"],
                       "name": t["name"]} for t in things]  # fmt: skip
    assert [t["name"] for t in things] == ["P3", "P2", "P1"]
    only_names = get(client, "Things", **{"$select": "name"})["value"]
    assert only_names == [{"name": "P1"}, {"name": "P2"}, {"name": "P3"}]
    by_district = get(client, "Things", **{"$orderby": "properties/district,name desc"})["value"]
    assert [t["name"] for t in by_district] == ["P3", "P2", "P1"]
    # Ordered by a property that pages by offset: still no loss across nextLinks.
    url: str | None = f"{base(client)}/sta/v1.1/Things?$orderby=properties/district&$top=1"
    names = []
    while url:
        page = follow(client, url)
        names += [t["name"] for t in page["value"]]
        url = page.get("@iot.nextLink")
    assert sorted(names) == ["P1", "P2", "P3"] and names[0] == "P3"


def test_nested_expand_with_its_own_options(client: httpx.Client, fleet: Fleet) -> None:
    doc = get(
        client,
        "Things",
        **{
            "$expand": "Locations,Datastreams($filter=properties/metric eq 'pm10' and "
            f"{RAW};"
            "$expand=Observations($top=1;$orderby=phenomenonTime desc),ObservedProperty;"
            "$count=true)",
            "$filter": "name eq 'P1'",
        },
    )
    (thing,) = doc["value"]
    assert len(thing["Locations"]) == 1 and "Locations@iot.navigationLink" not in thing
    (stream,) = thing["Datastreams"]
    assert thing["Datastreams@iot.count"] == 1
    assert stream["ObservedProperty"]["name"] == "PM10"
    (latest,) = stream["Observations"]
    assert latest["phenomenonTime"] == "2026-06-01T05:50:00Z"
    assert latest["result"] == 10.0 + 35 % 7
    # The nested page continues where the expand stopped.
    next_link = stream["Observations@iot.nextLink"]
    assert "$top=1" in next_link.replace("%24", "$") and "$skip=1" in next_link.replace("%24", "$")
    following = follow(client, next_link)
    assert following["value"][0]["phenomenonTime"] == "2026-06-01T05:40:00Z"
    # Path form: Datastreams/Sensor expands Datastreams with their Sensor.
    path_form = get(client, "Things", **{"$expand": "Datastreams/Sensor", "$top": 1})["value"][0]
    assert all("Sensor" in d for d in path_form["Datastreams"])
    obs = get(client, "Observations", **{"$expand": "Datastream($select=name),FeatureOfInterest",
                                         "$top": 2})["value"]  # fmt: skip
    assert all(set(o["Datastream"]) == {"name"} for o in obs)
    assert all(o["FeatureOfInterest"]["feature"]["type"] == "Point" for o in obs)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_are_refused(client: httpx.Client, method: str) -> None:
    for path in ("/sta/v1.1/Things", "/sta/v1.1/Things(1)", "/sta/v1.1"):
        response = client.request(method, path, json={"name": "x"})
        assert response.status_code == 405, (method, path)
        assert response.headers["allow"] == "GET, HEAD"
        assert response.json()["message"]


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("Things(999999)", {}, 404),
        ("Things(1)/Nothing", {}, 404),
        ("Gadgets", {}, 404),
        (f"Observations({MAX_ID})", {}, 404),
        (f"Datastreams({2**60})", {}, 404),
        ("Things('abc')", {}, 400),
        ("Things", {"$filter": "name eq"}, 400),
        ("Things", {"$filter": "nosuch eq 1"}, 400),
        ("Things", {"$filter": "name eq 1"}, 400),
        ("Things", {"$filter": "name eq 'a' and"}, 400),
        ("Things", {"$orderby": "nosuch"}, 400),
        ("Things", {"$select": "nosuch"}, 400),
        ("Things", {"$expand": "Nosuch"}, 400),
        ("Things", {"$expand": "Datastreams($top=x)"}, 400),
        ("Things", {"$top": "-1"}, 400),
        ("Things", {"$count": "maybe"}, 400),
        ("Things", {"$skiptoken": "!!!"}, 400),
        ("Things", {"$search": "x"}, 501),
        ("Things", {"$resultFormat": "xml"}, 501),
        ("Things", {"$filter": "geo.length(name) gt 1"}, 501),
        ("Datastreams", {"$filter": "phenomenonTime gt 2020-01-01T00:00:00Z"}, 501),
        ("Things", {"$filter": "Datastreams/name eq name"}, 501),
    ],
)
def test_errors(client: httpx.Client, path: str, params: dict[str, Any], status: int) -> None:
    error(client, path, status, **params)
