"""The broker's administration channel: JSON commands to
`$CONTROL/dynamic-security/v1`, answers on `.../response`.

This is what `mosquitto_ctrl dynsec` does, spoken directly, so the admin
password comes from a file and never from a command line (`mosquitto_ctrl
-P` would put it in every process listing). One command batch at a time;
each command carries correlation data that its answer echoes back.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from brokerauth import client as mqtt_setup
from brokerauth.roles import CONTROL_RESPONSE_TOPIC, CONTROL_TOPIC
from config.endpoints import MqttEndpoint

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
_batch_numbers = itertools.count(1)


class BrokerAdminError(RuntimeError):
    """The broker could not be reached, or refused a command (message says which)."""


class CommandFailedError(BrokerAdminError):
    def __init__(self, command: str, error: str) -> None:
        super().__init__(f"{command}: {error}")
        self.command = command
        self.error = error


class BrokerAdmin:
    """A connection to the admin channel, as a context manager."""

    def __init__(self, endpoint: MqttEndpoint, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"smartpole-admin-{os.getpid()}-{next(_batch_numbers)}-{time.time_ns()}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        mqtt_setup.configure(self._client, endpoint)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._ready = threading.Event()
        self._refused: str | None = None
        self._answers: dict[str, dict[str, Any]] = {}
        self._answered = threading.Condition()
        self._lock = threading.Lock()

    # --- connection ---------------------------------------------------------

    def __enter__(self) -> BrokerAdmin:
        try:
            self._client.connect(self.endpoint.host, self.endpoint.port, keepalive=30)
        except OSError as exc:
            raise BrokerAdminError(
                f"cannot reach the broker at {self.endpoint.redacted()}: {exc}"
            ) from exc
        self._client.loop_start()
        if not self._ready.wait(self.timeout_s) or self._refused:
            self._client.loop_stop()
            raise BrokerAdminError(
                f"the broker at {self.endpoint.redacted()} refused the admin connection as "
                f"{self.endpoint.username!r}: {self._refused or 'no answer'}"
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                    properties: Properties | None) -> None:  # fmt: skip
        if reason.is_failure:
            self._refused = str(reason)
            self._ready.set()
            return
        client.subscribe(CONTROL_RESPONSE_TOPIC, qos=1)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if any(r.is_failure for r in reasons):
            self._refused = f"may not read {CONTROL_RESPONSE_TOPIC} ({reasons[0]})"
        self._ready.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            document = json.loads(message.payload)
        except ValueError:
            log.warning("unreadable answer on %s", message.topic)
            return
        with self._answered:
            for answer in document.get("responses", []):
                correlation = answer.get("correlationData")
                if isinstance(correlation, str):
                    self._answers[correlation] = answer
            self._answered.notify_all()

    # --- commands -----------------------------------------------------------

    def execute(self, commands: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send one batch; return each command's answer (`data` may be absent).
        Raises CommandFailedError for the first command the broker refused."""
        answers = self.try_execute(commands)
        for command, answer in zip(commands, answers, strict=True):
            if answer.get("error"):
                raise CommandFailedError(command["command"], str(answer["error"]))
        return answers

    def try_execute(self, commands: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Like execute, but answers with an `error` are returned, not raised."""
        if not commands:
            return []
        with self._lock:
            batch = next(_batch_numbers)
            tagged = [
                {**command, "correlationData": f"{batch}.{index}"}
                for index, command in enumerate(commands)
            ]
            keys = [command["correlationData"] for command in tagged]
            info = self._client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
            deadline = time.monotonic() + self.timeout_s
            with self._answered:
                while not all(key in self._answers for key in keys):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        names = sorted({c["command"] for c in commands})
                        raise BrokerAdminError(
                            f"no answer from the broker to {', '.join(names)} within "
                            f"{self.timeout_s:.0f} s (is the dynamic security plugin loaded, "
                            f"and may {self.endpoint.username!r} use {CONTROL_TOPIC}?)"
                        )
                    self._answered.wait(min(left, 0.5))
                answers = [self._answers.pop(key) for key in keys]
            if not info.is_published():
                info.wait_for_publish(1.0)
        return answers

    def one(self, command: str, **fields: Any) -> dict[str, Any]:
        answer = self.execute([{"command": command, **fields}])[0]
        data: dict[str, Any] = answer.get("data") or {}
        return data
