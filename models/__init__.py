"""Shared vocabulary of smartpole: the domain catalogue, topics, wire models and
their decoding. Imports nothing of smartpole's own."""

from models.readings import (
    EnvReading,
    EvConnectorReading,
    LightReading,
    PoleStatus,
    Reading,
    WifiReading,
)
from models.topics import Family, PoleTopic, TopicError
from models.vocabulary import OcppErrorCode, OcppStatus
from models.wire import DecodedMessage, DecodeLimits, Rejection, decode_message

__all__ = [
    "DecodeLimits",
    "DecodedMessage",
    "EnvReading",
    "EvConnectorReading",
    "Family",
    "LightReading",
    "OcppErrorCode",
    "OcppStatus",
    "PoleStatus",
    "PoleTopic",
    "Reading",
    "Rejection",
    "TopicError",
    "WifiReading",
    "decode_message",
]
