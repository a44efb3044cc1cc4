"""`smartpole sta-publish`: run the SensorThings MQTT publisher."""

from __future__ import annotations

import argparse
import sys

from config.services import StaPublisherSettings
from sta_mqtt.publisher import StaPublisher
from storage.migrate import SchemaNotCurrent


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    publish = commands.add_parser(
        "sta-publish",
        help="publish committed observations to the SensorThings MQTT topics "
        "(v1.1/Datastreams(<id>)/Observations), as the platform-publisher identity",
    )
    publish.set_defaults(handler=run_publisher, settings_class=StaPublisherSettings)


def run_publisher(args: argparse.Namespace, settings: StaPublisherSettings) -> int:
    service = StaPublisher(settings)
    service.install_signal_handlers()
    try:
        service.run()
    except SchemaNotCurrent as exc:
        print(f"smartpole sta-publish: {exc}", file=sys.stderr)
        return 1
    return 0
