"""The MQTT topic contract, parsed into value objects that cannot be invalid.

smartpole/v1/poles/{pole_id}/env
smartpole/v1/poles/{pole_id}/light
smartpole/v1/poles/{pole_id}/wifi
smartpole/v1/poles/{pole_id}/ev/{connector_id}
smartpole/v1/poles/{pole_id}/status      (retained; also the MQTT last-will)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

TOPIC_PREFIX = "smartpole/v1/poles"
POLE_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
MAX_CONNECTOR_ID = 99
# What an ingest worker subscribes to; every family lives below it.
SUBSCRIPTION_FILTER = f"{TOPIC_PREFIX}/#"
# OGC SensorThings MQTT (receive updates, sta_mqtt): what the platform itself
# publishes after a commit, e.g. v1.1/Datastreams(id)/Observations. The broker
# roles read it.
SENSORTHINGS_TOPIC_FILTER = "v1.1/#"


def datastream_observations_topic(datastream_id: int) -> str:
    """Where a Datastream's new Observations are published (SensorThings 1.1 MQTT)."""
    return f"v1.1/Datastreams({datastream_id})/Observations"


def pole_topic_filter(pole_id: str) -> str:
    """Everything one pole may publish: its own topics, its last-will included."""
    if not POLE_ID_PATTERN.fullmatch(pole_id):
        raise TopicError(f"invalid pole id {pole_id[:80]!r}")
    return f"{TOPIC_PREFIX}/{pole_id}/#"


class Family(StrEnum):
    """A metric family: one wire model, one storage table."""

    ENV = "env"
    LIGHT = "light"
    WIFI = "wifi"
    EV = "ev"
    STATUS = "status"


class TopicError(ValueError):
    """The topic is outside the contract; the message says exactly why."""


@dataclass(frozen=True, slots=True)
class PoleTopic:
    pole_id: str
    family: Family
    connector_id: int | None = None

    def __post_init__(self) -> None:
        if not POLE_ID_PATTERN.fullmatch(self.pole_id):
            raise TopicError(
                f"invalid pole id {self.pole_id[:80]!r}: 1-64 characters of A-Z a-z 0-9 _ -, "
                "starting with a letter or digit"
            )
        if (self.family is Family.EV) != (self.connector_id is not None):
            raise TopicError("a connector id belongs to the ev family, and ev needs one")
        if self.connector_id is not None and not 1 <= self.connector_id <= MAX_CONNECTOR_ID:
            raise TopicError(f"connector id must be 1-{MAX_CONNECTOR_ID}, got {self.connector_id}")

    @classmethod
    def parse(cls, topic: str) -> PoleTopic:
        prefix = TOPIC_PREFIX + "/"
        if not topic.startswith(prefix):
            raise TopicError(f"topic must start with {prefix!r}")
        parts = topic[len(prefix) :].split("/")
        if len(parts) < 2:
            raise TopicError("topic must name a pole and a family")
        pole_id, family_name, *rest = parts
        try:
            family = Family(family_name)
        except ValueError:
            known = ", ".join(f.value for f in Family)
            raise TopicError(f"unknown family {family_name[:40]!r} (known: {known})") from None
        connector_id: int | None = None
        if family is Family.EV:
            if len(rest) != 1 or not rest[0].isascii() or not rest[0].isdigit():
                raise TopicError("ev topics end in /ev/{connector_id}, a number")
            connector_id = int(rest[0])
        elif rest:
            raise TopicError(f"unexpected topic levels after {family_name!r}")
        return cls(pole_id, family, connector_id)

    def __str__(self) -> str:
        base = f"{TOPIC_PREFIX}/{self.pole_id}/{self.family.value}"
        return base if self.connector_id is None else f"{base}/{self.connector_id}"
