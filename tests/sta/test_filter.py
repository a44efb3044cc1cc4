"""$filter against the real database: comparison, logical, arithmetic, string,
date/time and math functions, geo functions without PostGIS, paths across
relations, hostile text, and a fuzz that never gets a 500."""

from __future__ import annotations

import contextlib

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.sensorthings.odata import QueryError, parse_filter
from tests.sta.conftest import RAW, Fleet, error, get

BERLIN_BOX = "geography'POLYGON((13 52, 14 52, 14 53, 13 53, 13 52))'"
HAMBURG_BOX = "geography'POLYGON((9 53, 11 53, 11 54, 9 54, 9 53))'"


def names(client: httpx.Client, path: str, filter_: str) -> list[str]:
    return sorted(t["name"] for t in get(client, path, **{"$filter": filter_})["value"])


def results(client: httpx.Client, ds: int, filter_: str) -> list[float]:
    page = get(client, f"Datastreams({ds})/Observations", **{"$filter": filter_, "$top": 1000})
    return [o["result"] for o in page["value"]]


@pytest.fixture
def pm10(client: httpx.Client, fleet: Fleet) -> int:
    f = f"properties/poleId eq 'P1' and properties/metric eq 'pm10' and {RAW}"
    ident: int = get(client, "Datastreams", **{"$filter": f})["value"][0]["@iot.id"]
    return ident


PM10 = [10.0 + i % 7 for i in range(36)]  # the fixture's P1 pm10 values, 10-minute steps


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ("result gt 15", [v for v in PM10 if v > 15]),
        ("result ge 15 and result le 15", [15.0] * PM10.count(15.0)),
        ("result ne 10", [v for v in PM10 if v != 10]),
        ("result lt 11 or result eq 16", [v for v in PM10 if v < 11 or v == 16]),
        ("not (result gt 11)", [v for v in PM10 if not v > 11]),
        ("result add 5 eq 15", [10.0] * PM10.count(10.0)),
        ("result sub 1 eq 9", [10.0] * PM10.count(10.0)),
        ("result mul 2 gt 30", [v for v in PM10 if v * 2 > 30]),
        ("result div 2 eq 8", [16.0] * PM10.count(16.0)),
        ("result mod 7 eq 3", [v for v in PM10 if v % 7 == 3]),
        ("result div 0 eq 1", []),
        ("-result lt -15", [v for v in PM10 if v > 15]),
        ("round(result) eq 12", [12.0] * PM10.count(12.0)),
        ("floor(result div 4) eq 2", [v for v in PM10 if v // 4 == 2]),
        ("ceiling(result div 4) eq 3", [v for v in PM10 if -(-v // 4) == 3]),
        ("phenomenonTime ge 2026-06-01T01:00:00Z and phenomenonTime lt 2026-06-01T02:00:00Z",
         PM10[6:12]),
        ("hour(phenomenonTime) eq 3", PM10[18:24]),
        ("minute(phenomenonTime) eq 50", PM10[5::6]),
        ("year(phenomenonTime) eq 2026 and month(phenomenonTime) eq 6 and day(phenomenonTime) eq 1",
         PM10),
        ("second(phenomenonTime) eq 0 and fractionalseconds(phenomenonTime) eq 0", PM10),
        ("date(phenomenonTime) eq 2026-06-01", PM10),
        ("phenomenonTime lt now() and phenomenonTime gt mindatetime()", PM10),
        ("phenomenonTime ge 2026-06-01T04:00:00Z add duration'PT1H'", PM10[30:]),
        ("resultTime eq phenomenonTime", PM10),
        ("parameters/receivedAt ne null", PM10),
    ],
)  # fmt: skip
def test_comparison_logic_arithmetic_time_and_math(
    client: httpx.Client, pm10: int, filter_: str, expected: list[float]
) -> None:
    assert results(client, pm10, filter_) == expected


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ("startswith(name, 'P')", ["P1", "P2", "P3"]),
        ("endswith(name, '3')", ["P3"]),
        ("substringof('2', name)", ["P2"]),
        ("contains(name, '1')", ["P1"]),
        ("length(name) eq 2", ["P1", "P2", "P3"]),
        ("indexof(name, '3') eq 1", ["P3"]),
        ("substring(name, 1) eq '2'", ["P2"]),
        ("substring(name, 0, 1) eq 'P' and substring(name, -5, -1) eq ''", ["P1", "P2", "P3"]),
        ("tolower(name) eq 'p1'", ["P1"]),
        ("toupper(properties/district) eq 'ALTONA'", ["P3"]),
        ("trim(concat(' ', name)) eq 'P2'", ["P2"]),
        ("concat(name, 'x') eq 'P1x'", ["P1"]),
        ("name gt 'P1'", ["P2", "P3"]),
        ("properties/district eq 'Mitte'", ["P1", "P2"]),
        ("properties/nosuch eq null", ["P1", "P2", "P3"]),
        ("properties/capabilities ne null and properties/district ne 'Mitte'", ["P3"]),
        ("id eq 1 or id eq 3", ["P1", "P3"]),
        # Paths across relations: any related entity matches.
        ("Datastreams/ObservedProperty/name eq 'NO2'", ["P1", "P2", "P3"]),
        ("Datastreams/ObservedProperty/name eq 'Charging power'", ["P2"]),
        ("Datastreams/Sensor/name eq 'lamp controller'", ["P1"]),
        ("Datastreams/properties/connectorId eq 2", ["P2"]),
        ("Locations/location ne null", ["P1", "P2", "P3"]),
        # Geometry: bounding box in SQL, exact test in Python.
        (f"st_within(Locations/location, {BERLIN_BOX})", ["P1", "P2"]),
        (f"st_intersects(Locations/location, {HAMBURG_BOX})", ["P3"]),
        (f"geo.intersects(Locations/location, {BERLIN_BOX})", ["P1", "P2"]),
        (f"not st_within(Locations/location, {BERLIN_BOX})", ["P3"]),
        (f"st_disjoint(Locations/location, {BERLIN_BOX})", ["P3"]),
        ("geo.distance(Locations/location, geography'POINT(13.40 52.52)') lt 0.001", ["P1"]),
        ("geo.distance(Locations/location, geography'POINT(13.40 52.52)') le 0.02", ["P1", "P2"]),
        ("geo.distance(Locations/location, geography'POINT(13.40 52.52)') gt 1", ["P3"]),
        ("st_within(Locations/location, geography'SRID=4326;POLYGON((13.405 52.5, 14 52.5, "
         "14 53, 13.405 53, 13.405 52.5))')", ["P2"]),
        # A pole inside the bounding box of an L-shape but outside its polygon.
        ("st_within(Locations/location, geography'POLYGON((13.405 52, 14 52, 14 53, 13 53, "
         "13 52.525, 13.405 52.525, 13.405 52))')", ["P2"]),
        # Hostile text is a value, never SQL.
        ("name eq 'P1'' OR 1=1 --'", []),
        ("name eq 'x''); DROP TABLE poles; --'", []),
    ],
)  # fmt: skip
def test_strings_properties_relations_and_geometry(
    client: httpx.Client, fleet: Fleet, filter_: str, expected: list[str]
) -> None:
    assert names(client, "Things", filter_) == expected


def test_geo_filters_on_locations_datastreams_and_observations(
    client: httpx.Client, fleet: Fleet
) -> None:
    assert names(client, "Locations", f"st_within(location, {HAMBURG_BOX})") == [
        "Position of pole P3"
    ]
    assert names(client, "FeaturesOfInterest", f"st_within(feature, {HAMBURG_BOX})") == [
        "Surroundings of pole P3"
    ]
    areas = get(client, "Datastreams", **{"$filter": f"st_within(observedArea, {HAMBURG_BOX})",
                                          "$top": 100})["value"]  # fmt: skip
    assert {d["properties"]["poleId"] for d in areas} == {"P3"}
    observations = get(
        client,
        "Observations",
        **{"$filter": "Datastream/Thing/properties/district eq 'Altona' and "
                      "Datastream/ObservedProperty/name eq 'PM10'", "$count": "true"},
    )  # fmt: skip
    assert observations["@iot.count"] == fleet.env_readings
    near = get(
        client,
        "Observations",
        **{"$filter": f"st_within(FeatureOfInterest/feature, {HAMBURG_BOX})", "$count": "true"},
    )
    assert near["@iot.count"] == fleet.env_readings * 4


@pytest.mark.parametrize(
    "filter_",
    [
        "name eq",
        "eq 'x'",
        "name eq 'x' and",
        "(name eq 'x'",
        "name eq 'x')",
        "name eq 'unterminated",
        "name eq 1",
        "result gt 'x'",
        "phenomenonTime gt 5",
        "unknownfn(name) eq 1",
        "length(name, name) eq 1",
        "nosuch eq 1",
        "Datastreams eq 1",
        "name/sub eq 1",
        "name",
        "st_within(name, geography'POINT(1 2)')",
        "st_within(Locations/location, geography'POLYGON((1 2, 3')",
        "st_within(Locations/location, geography'POINT(nan inf)')",
        "st_within(Locations/location, 'POINT(1 2)')",
        "phenomenonTime gt 2026-13-45T99:00:00Z",
        "name eq 'x' eq 'y'",
        "1e999999 gt 1",
        "phenomenonTime add duration'P' gt now()",
        "(" * 500 + "name eq 'x'" + ")" * 500,
    ],
)
def test_malformed_filters_are_400(client: httpx.Client, fleet: Fleet, filter_: str) -> None:
    path = "Observations" if "result" in filter_ or "phenomenon" in filter_ else "Things"
    assert error(client, path, 400, **{"$filter": filter_})


def test_arithmetic_overflow_is_a_400_not_a_500(client: httpx.Client, pm10: int) -> None:
    huge = "1" + "0" * 300
    response = client.get(f"/sta/v1.1/Datastreams({pm10})/Observations",
                          params={"$filter": f"result mul {huge} mul {huge} gt 1"})  # fmt: skip
    assert response.status_code in (200, 400), response.text


TOKENS = [
    "name", "id", "result", "phenomenonTime", "properties/district", "Datastreams/name",
    "Datastream/Thing/name", "Locations/location", "eq", "ne", "gt", "lt", "and", "or", "not",
    "add", "sub", "mul", "div", "mod", "(", ")", ",", "'P1'", "''", "'x''y'", "1", "-2", "0.5",
    "1e3", "true", "null", "2026-06-01T00:00:00Z", "duration'PT1H'",
    "geography'POINT(13.4 52.5)'", "geography'POLYGON((13 52,14 52,14 53,13 52))'",
    "length(", "substring(", "geo.distance(", "st_within(", "round(", "hour(", "now()", "/",
    "concat(", "indexof(", "tolower(", "date(",
]  # fmt: skip


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.one_of(
        st.lists(st.sampled_from(TOKENS), min_size=1, max_size=12).map(" ".join),
        st.text(max_size=60),
    ),
    st.sampled_from(["Things", "Observations", "Datastreams", "Locations"]),
)
def test_fuzzed_filters_never_cause_a_500(
    client: httpx.Client, fleet: Fleet, filter_: str, path: str
) -> None:
    response = client.get(f"/sta/v1.1/{path}", params={"$filter": filter_, "$top": "3"})
    assert response.status_code in (200, 400, 501), (filter_, response.text)
    if response.status_code != 200:
        assert response.json()["message"]


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_the_parser_raises_only_query_errors(text: str) -> None:
    with contextlib.suppress(QueryError):
        parse_filter(text)
