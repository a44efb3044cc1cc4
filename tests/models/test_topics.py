from __future__ import annotations

import pytest

from models.topics import Family, PoleTopic, TopicError


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("smartpole/v1/poles/CR-0001/env", PoleTopic("CR-0001", Family.ENV)),
        ("smartpole/v1/poles/a_b/light", PoleTopic("a_b", Family.LIGHT)),
        ("smartpole/v1/poles/7/wifi", PoleTopic("7", Family.WIFI)),
        ("smartpole/v1/poles/P/ev/12", PoleTopic("P", Family.EV, 12)),
        ("smartpole/v1/poles/P/status", PoleTopic("P", Family.STATUS)),
    ],
)
def test_valid_topics_parse_and_round_trip(topic: str, expected: PoleTopic) -> None:
    parsed = PoleTopic.parse(topic)
    assert parsed == expected
    assert str(parsed) == topic


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("smartpole/v2/poles/P/env", "must start with"),
        ("other/v1/poles/P/env", "must start with"),
        ("smartpole/v1/poles/P", "name a pole and a family"),
        ("smartpole/v1/poles//env", "invalid pole id"),
        ("smartpole/v1/poles/-P/env", "invalid pole id"),
        ("smartpole/v1/poles/P+/env", "invalid pole id"),
        ("smartpole/v1/poles/P#/env", "invalid pole id"),
        ("smartpole/v1/poles/" + "x" * 65 + "/env", "invalid pole id"),
        ("smartpole/v1/poles/Pöle/env", "invalid pole id"),
        ("smartpole/v1/poles/P\x00/env", "invalid pole id"),
        ("smartpole/v1/poles/P/gas", "unknown family"),
        ("smartpole/v1/poles/P/ENV", "unknown family"),
        ("smartpole/v1/poles/P/env/1", "unexpected topic levels"),
        ("smartpole/v1/poles/P/ev", "a number"),
        ("smartpole/v1/poles/P/ev/1/2", "a number"),
        ("smartpole/v1/poles/P/ev/-1", "a number"),
        ("smartpole/v1/poles/P/ev/\u0661", "a number"),  # Arabic-Indic 1: isdigit(), not ASCII
        ("smartpole/v1/poles/P/ev/0", "connector id must be 1-99"),
        ("smartpole/v1/poles/P/ev/100", "connector id must be 1-99"),
        ("smartpole/v1/poles/P/ev/99999999999999999999", "connector id must be 1-99"),
    ],
)
def test_invalid_topics_are_refused_with_a_reason(topic: str, reason: str) -> None:
    with pytest.raises(TopicError, match=reason):
        PoleTopic.parse(topic)


def test_a_pole_topic_cannot_be_built_invalid() -> None:
    with pytest.raises(TopicError):
        PoleTopic("P", Family.ENV, connector_id=1)
    with pytest.raises(TopicError):
        PoleTopic("P", Family.EV)
