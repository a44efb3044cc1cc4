"""The publisher's window: the position moves only over a prefix of feed
entries whose every publish the broker acknowledged, whatever order the
PUBACKs come in (also before publish() returned its mid)."""

from __future__ import annotations

from sta_mqtt.publisher import _Entry, _Window
from storage.change_feed import FeedPosition


def p(n: int) -> FeedPosition:
    return FeedPosition(100, n)


def test_position_moves_over_acknowledged_prefixes_only() -> None:
    w = _Window()
    a, b, c = _Entry(p(1), 2), _Entry(p(2), 0), _Entry(p(3), 1)
    w.add_entry(a)
    w.register(1, a)
    w.register(2, a)
    w.add_entry(b)  # an entry with nothing to publish (another family)
    w.add_entry(c)
    w.register(3, c)
    w.acknowledge(3, True)  # c first: nothing moves, a is not done
    assert w.acked is None
    w.acknowledge(1, True)
    assert w.acked is None
    w.acknowledge(2, True)
    assert w.acked == p(3)  # a, then b (empty) and c (done) follow
    assert w.outstanding == 0


def test_an_acknowledgement_before_its_registration_counts() -> None:
    w = _Window()
    a = _Entry(p(1), 1)
    w.add_entry(a)
    w.acknowledge(7, True)  # paho's network thread was quicker
    w.register(7, a)
    assert w.acked == p(1)
    assert w.outstanding == 0


def test_a_refused_publish_holds_the_position() -> None:
    w = _Window()
    a, b = _Entry(p(1), 1), _Entry(p(2), 1)
    w.add_entry(a)
    w.register(1, a)
    w.add_entry(b)
    w.register(2, b)
    w.acknowledge(1, False)
    w.acknowledge(2, True)
    assert w.acked is None
    assert w.failed
    assert not w.wait_below(1, 0.1) or w.outstanding == 0


def test_acknowledgements_of_unknown_mids_change_nothing() -> None:
    w = _Window()
    a = _Entry(p(1), 1)
    w.add_entry(a)
    w.register(1, a)
    w.acknowledge(99, True)
    assert w.acked is None and w.outstanding == 1
