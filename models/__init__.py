"""Shared vocabulary of smartpole: topics, wire models and their decoding."""

from models.readings import (
    EnvReading,
    EvConnectorReading,
    LightReading,
    OcppErrorCode,
    OcppStatus,
    PoleStatus,
    Reading,
    WifiReading,
)
from models.topics import Family, PoleTopic, TopicError
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
