"""$resultFormat=dataArray (SensorThings 1.1 §14.3), GeoJSON and CSV as FROST offers them."""

from __future__ import annotations

import csv
import io

import httpx

from tests.sta.conftest import RAW, Fleet, error, get


def pm10(client: httpx.Client, pole: str) -> int:
    f = f"properties/poleId eq '{pole}' and properties/metric eq 'pm10' and {RAW}"
    ident: int = get(client, "Datastreams", **{"$filter": f})["value"][0]["@iot.id"]
    return ident


def test_data_array_groups_observations_by_datastream(client: httpx.Client, fleet: Fleet) -> None:
    ds = pm10(client, "P1")
    plain = get(client, f"Datastreams({ds})/Observations", **{"$top": 5})["value"]
    doc = get(client, f"Datastreams({ds})/Observations",
              **{"$top": 5, "$resultFormat": "dataArray", "$count": "true"})  # fmt: skip
    assert doc["@iot.count"] == fleet.env_readings and "@iot.nextLink" in doc
    (group,) = doc["value"]
    assert group["Datastream@iot.navigationLink"].endswith(f"/Datastreams({ds})")
    assert group["components"] == ["id", "phenomenonTime", "resultTime", "result"]
    assert group["dataArray@iot.count"] == 5
    assert group["dataArray"] == [
        [o["@iot.id"], o["phenomenonTime"], o["resultTime"], o["result"]] for o in plain
    ]
    chosen = get(client, "Observations", **{"$resultFormat": "dataArray", "$top": 40,
                                            "$select": "result,id"})["value"]  # fmt: skip
    assert len(chosen) > 1 and all(g["components"] == ["result", "id"] for g in chosen)
    assert sum(g["dataArray@iot.count"] for g in chosen) == 40
    error(client, "Things", 400, **{"$resultFormat": "dataArray"})
    error(client, "Observations", 400, **{"$resultFormat": "dataArray", "$select": "nosuch"})


def test_geojson_of_things_and_locations(client: httpx.Client, fleet: Fleet) -> None:
    response = client.get("/sta/v1.1/Locations", params={"$resultFormat": "GeoJSON"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    doc = response.json()
    assert doc["type"] == "FeatureCollection"
    by_name = {f["properties"]["name"]: f for f in doc["features"]}
    p3 = by_name["Position of pole P3"]
    assert p3["geometry"] == {"type": "Point", "coordinates": [9.99, 53.55]}
    assert p3["id"] == p3["properties"]["@iot.id"]
    things = client.get("/sta/v1.1/Things", params={"$resultFormat": "GeoJSON",
                                                    "$filter": "name eq 'P1'"}).json()  # fmt: skip
    (feature,) = things["features"]
    assert feature["geometry"]["coordinates"] == [13.40, 52.52]
    assert feature["properties"]["properties"]["district"] == "Mitte"


def test_csv_flattens_entities_and_expanded_relations(client: httpx.Client, fleet: Fleet) -> None:
    ds = pm10(client, "P2")
    response = client.get(f"/sta/v1.1/Datastreams({ds})/Observations",
                          params={"$resultFormat": "CSV", "$top": 3,
                                  "$expand": "Datastream($select=name)"})  # fmt: skip
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 3
    assert rows[0]["Datastream/name"] == "PM10 at pole P2"
    assert float(rows[0]["result"]) == 10.0
    assert rows[0]["phenomenonTime"] == "2026-06-01T00:00:00Z"
    assert 'rel="next"' in response.headers["link"]
    things = client.get("/sta/v1.1/Things", params={"$resultFormat": "CSV"}).text
    header = next(csv.reader(io.StringIO(things)))
    assert header[:4] == ["@iot.selfLink", "@iot.id", "name", "description"]
    assert "properties/district" in header
