"""`smartpole simulate fleet|pole|replay`: pole simulators for field technicians."""

from __future__ import annotations

import argparse
import itertools
import math
import os
import random
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from brokerauth import commissioning
from brokerauth.commissioning import CommissioningError
from config.services import SimulatorSettings
from models.catalogue.families import FAMILIES
from models.topics import POLE_ID_PATTERN, Family
from models.wire import DecodeLimits
from simulators.city import (
    DEFAULT_CITY,
    DEFAULT_LATITUDE,
    DEFAULT_LONGITUDE,
    City,
    PoleSpec,
    seeded_fleet,
    single_pole,
)
from simulators.faults import Fault, FaultPlan, FaultSpecError
from simulators.generator import Action, Outgoing, Window, fleet_events
from simulators.inventory import write_inventory
from simulators.publisher import (
    DEFAULT_WINDOW,
    MQTT_MAX_IN_FLIGHT,
    FleetPublisher,
    Pacing,
    Progress,
    PublishError,
    ResendPolicy,
)
from simulators.replay import (
    ReplayError,
    ReplayReport,
    detect_format,
    jsonl_messages,
    record_line,
    uba_messages,
)
from simulators.summary import RunSummary

MAX_DURATION = timedelta(days=366)
MAX_POLES = 100_000
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d)?")
# The catalogue's expected reporting cadence (every reporting family has one).
DEFAULT_INTERVAL = min(s.expected_cadence for s in FAMILIES.values() if s.expected_cadence)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
SCENARIOS = ("normal", "commissioning", *(f.value for f in Fault))


def parse_duration(text: str) -> timedelta:
    """`90`, `90s`, `15m`, `3h`, `2d`, `1.5h`."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text[:40]!r} (e.g. 90s, 15m, 3h, 2d)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not 0 < seconds <= MAX_DURATION.total_seconds():
        raise argparse.ArgumentTypeError(f"duration must be more than 0 and at most {MAX_DURATION}")
    return timedelta(seconds=seconds)


def parse_speed(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text[:40]!r}") from None
    if not 1 <= speed <= 1e7 or math.isnan(speed):
        raise argparse.ArgumentTypeError("speed must be 1 (real time) to 10,000,000")
    return speed


def parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text[:40]!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give the time with a UTC offset, e.g. ...T18:00+01:00")
    return value.astimezone(UTC)


def parse_fault_plan(text: str) -> FaultPlan:
    try:
        return FaultPlan.parse(text)
    except FaultSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text[:40]!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low}-{high}")
        return value

    return parse


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    simulate = commands.add_parser(
        "simulate", help="simulated poles: a fleet, one pole, or a replay of recorded readings"
    )
    kinds = simulate.add_subparsers(dest="simulate_command", required=True, metavar="KIND")

    fleet = kinds.add_parser("fleet", help="a fleet of poles in the districts of a city")
    fleet.add_argument(
        "--poles",
        type=_bounded_int(1, MAX_POLES),
        required=True,
        help="how many poles (each holds its own MQTT session for its will)",
    )
    _add_run_options(fleet, default_speed=1.0)
    fleet.add_argument(
        "--faults",
        type=parse_fault_plan,
        default=FaultPlan(),
        help="fault scenarios with rates, e.g. offline=2,outage,malformed=0.01 "
        "(episodes per pole-day; per-message probability for out_of_range, "
        "malformed, duplicate)",
    )
    fleet.add_argument("--city", default=DEFAULT_CITY, help="city name (default %(default)s)")
    fleet.add_argument("--lat", type=float, default=DEFAULT_LATITUDE, help="city centre latitude")
    fleet.add_argument("--lon", type=float, default=DEFAULT_LONGITUDE, help="centre longitude")
    _add_inventory_option(fleet)
    fleet.set_defaults(handler=run_fleet, settings_class=SimulatorSettings)

    pole = kinds.add_parser("pole", help="one pole, every message shown (commissioning, faults)")
    pole.add_argument("pole_id", metavar="POLE_ID")
    pole.add_argument(
        "--scenario",
        default="commissioning",
        help=f"one of {', '.join(SCENARIOS)}; faults combine with + (e.g. outage+clock_skew)",
    )
    pole.add_argument(
        "--capabilities",
        default="env,light,wifi,ev",
        help="families the pole has installed (default %(default)s)",
    )
    _add_run_options(pole, default_speed=60.0, default_duration="1h")
    pole.add_argument("--city", default=DEFAULT_CITY)
    pole.add_argument("--lat", type=float, default=DEFAULT_LATITUDE)
    pole.add_argument("--lon", type=float, default=DEFAULT_LONGITUDE)
    _add_inventory_option(pole)
    pole.set_defaults(handler=run_pole, settings_class=SimulatorSettings)

    replay = kinds.add_parser("replay", help="replay recorded readings with original timestamps")
    replay.add_argument("file", type=Path, metavar="FILE")
    replay.add_argument("--format", choices=("auto", "uba", "jsonl"), default="auto")
    replay.add_argument("--from", dest="since", type=parse_time, help="only readings from then")
    replay.add_argument("--until", type=parse_time, help="only readings before then")
    replay.add_argument(
        "--speed",
        type=parse_speed,
        help="pace by the recorded times (default: as fast as possible)",
    )
    _add_output_options(replay)
    replay.set_defaults(handler=run_replay, settings_class=SimulatorSettings)


def _add_inventory_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--inventory",
        type=Path,
        metavar="FILE",
        help="first write the simulated poles' inventory (GeoJSON: position, district, "
        "equipment, connectors) for `smartpole poles import FILE`",
    )


def _add_run_options(
    parser: argparse.ArgumentParser, *, default_speed: float, default_duration: str | None = None
) -> None:
    parser.add_argument(
        "--duration",
        type=parse_duration,
        required=default_duration is None,
        default=parse_duration(default_duration) if default_duration else None,
        help="simulated period, e.g. 3h or 1d",
    )
    pacing = parser.add_mutually_exclusive_group()
    pacing.add_argument(
        "--speed",
        type=parse_speed,
        default=default_speed,
        help="simulated seconds per second (1440: a day in a minute); the "
        "simulated period ends now (default %(default)s)",
    )
    pacing.add_argument(
        "--backfill",
        action="store_true",
        help="send the period ending now as fast as the broker takes it",
    )
    parser.add_argument(
        "--end", type=parse_time, help="with --backfill/--dry-run: end of the period (default now)"
    )
    parser.add_argument("--seed", type=int, default=None, help="same seed, same run")
    parser.add_argument(
        "--interval",
        type=parse_duration,
        default=DEFAULT_INTERVAL,
        help=f"reporting interval of each family (default {DEFAULT_INTERVAL.total_seconds():g}s, "
        "the catalogue's expected cadence)",
    )
    parser.add_argument(
        "--timezone", default=None, help="local time of the city (default SMARTPOLE_TIMEZONE)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="generate and summarise without a broker"
    )
    _add_output_options(parser)


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--window",
        type=_bounded_int(1, MQTT_MAX_IN_FLIGHT),
        default=DEFAULT_WINDOW,
        help="most unacknowledged messages",
    )
    parser.add_argument(
        "--summary-json", type=Path, help="also write the summary as JSON here ('-': stdout)"
    )
    parser.add_argument(
        "--record", type=Path, help="write every message sent as JSON lines (replayable)"
    )
    parser.add_argument(
        "--client-id", default=None, help="MQTT client id prefix (default smartpole-sim-<pid>)"
    )
    parser.add_argument(
        "--credentials",
        type=Path,
        default=None,
        help="commissioning file(s) of the poles: a folder of <POLE_ID>.json or one file; "
        "each pole connects as itself (default SMARTPOLE_SIMULATOR_CREDENTIALS)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress line")


# --- handlers -----------------------------------------------------------------


def run_fleet(args: argparse.Namespace, settings: SimulatorSettings) -> int:
    try:
        city = City.named(args.city, args.lat, args.lon)
        timezone = _timezone(args, settings)
    except ValueError as exc:
        return _fail(str(exc))
    seed = _seed(args)
    poles = seeded_fleet(city, args.poles, seed, args.interval.total_seconds())
    _write_inventory(args, poles)
    return _simulate(
        args,
        settings,
        city=city,
        poles=poles,
        plan=args.faults,
        seed=seed,
        timezone=timezone,
        echo=None,
    )


def run_pole(args: argparse.Namespace, settings: SimulatorSettings) -> int:
    if not POLE_ID_PATTERN.fullmatch(args.pole_id):
        return _fail(f"invalid pole id {args.pole_id[:80]!r}: 1-64 of A-Z a-z 0-9 _ -")
    try:
        city = City.named(args.city, args.lat, args.lon)
        timezone = _timezone(args, settings)
        families = {Family(name.strip()) for name in args.capabilities.split(",") if name.strip()}
        plan = scenario_plan(args.scenario)
    except ValueError as exc:
        return _fail(str(exc))
    if Family.STATUS in families:
        return _fail("status is not a capability: every pole publishes it")
    families.add(Family.LIGHT)
    pole = single_pole(args.pole_id, city, families)
    _write_inventory(args, [pole])
    return _simulate(
        args,
        settings,
        city=city,
        poles=[pole],
        plan=plan,
        seed=_seed(args),
        timezone=timezone,
        echo=_echo,
    )


def _write_inventory(args: argparse.Namespace, poles: list[PoleSpec]) -> None:
    if args.inventory is None:
        return
    count = write_inventory(args.inventory, poles)
    print(
        f"wrote the inventory of {count} pole(s) to {args.inventory}: register them with "
        f"`smartpole poles import {args.inventory}`",
        file=sys.stderr,
    )


def scenario_plan(scenario: str) -> FaultPlan:
    """`normal`, `commissioning` (no faults) or faults joined by `+`, each forced
    to happen (a quarter into the run) and at a rate that shows it again."""
    if scenario in ("normal", "commissioning"):
        return FaultPlan()
    try:
        return FaultPlan.parse(scenario.replace("+", ","), forced=True)
    except FaultSpecError as exc:
        raise ValueError(f"unknown scenario {scenario[:60]!r}: {exc}") from None


def run_replay(args: argparse.Namespace, settings: SimulatorSettings) -> int:
    report = ReplayReport()
    started = datetime.now(UTC)
    limits = DecodeLimits(
        settings.ingest_max_payload_bytes, timedelta(seconds=settings.ingest_max_future_skew_s)
    )
    try:
        kind = detect_format(args.file) if args.format == "auto" else args.format
        messages: Iterator[Outgoing] = (
            uba_messages(args.file, report)
            if kind == "uba"
            else jsonl_messages(args.file, report, started, limits)
        )
        # Pull the first message now, so an unreadable file fails before we connect.
        first = next(messages, None)
    except ReplayError as exc:
        return _fail(str(exc))
    if first is not None:
        messages = itertools.chain([first], messages)
    selected = (
        m
        for m in messages
        if (args.since is None or m.at >= args.since) and (args.until is None or m.at < args.until)
    )
    pacing = None
    if args.speed is not None and first is not None:
        pacing = Pacing(first.at, time.time(), args.speed)
    code = _publish(args, settings, selected, pacing, echo=None, label="replay")
    if report.skipped or report.empty_rows:
        print(
            f"skipped {report.skipped} unreadable lines, {report.empty_rows} rows without "
            "any value",
            file=sys.stderr,
        )
        for problem in report.problems:
            print(f"  {problem}", file=sys.stderr)
    return code


def _simulate(
    args: argparse.Namespace,
    settings: SimulatorSettings,
    *,
    city: City,
    poles: list[PoleSpec],
    plan: FaultPlan,
    seed: int,
    timezone: ZoneInfo,
    echo: Callable[[Outgoing], None] | None,
) -> int:
    duration: timedelta = args.duration
    interval: timedelta = args.interval
    if interval > duration:
        return _fail("--interval must not be longer than --duration")
    now = datetime.now(UTC)
    pacing = None
    if args.backfill or args.dry_run:
        end = args.end or now.replace(microsecond=0)
        if end > now:
            return _fail("--end must not be in the future: ingest rejects future timestamps")
        start = end - duration
    else:
        if args.end is not None:
            return _fail("--end needs --backfill or --dry-run (a paced run ends now)")
        # A paced run simulates the period that ENDS when the run ends, so a
        # device timestamp never passes the real clock (see the README).
        wall_start = time.time()
        start = (now + duration / args.speed - duration).replace(microsecond=0)
        pacing = Pacing(start, wall_start, args.speed)
    window = Window(start, start + duration, interval)
    print(
        f"simulating {len(poles)} pole(s) in {city.name}, {window.start.isoformat()} to "
        f"{window.end.isoformat()}, seed {seed}",
        file=sys.stderr,
    )
    events = fleet_events(poles, window=window, plan=plan, seed=seed, timezone=timezone)
    return _publish(
        args, settings, events, pacing, echo=echo, label="fleet", seed=seed, poles=poles
    )


def _publish(
    args: argparse.Namespace,
    settings: SimulatorSettings,
    events: Iterable[Outgoing],
    pacing: Pacing | None,
    *,
    echo: Callable[[Outgoing], None] | None,
    label: str,
    seed: int | None = None,
    poles: list[PoleSpec] | None = None,
) -> int:
    # A replay may repeat a reading from long ago: it remembers every key.
    summary = RunSummary(key_memory=None) if label == "replay" else RunSummary()
    dry_run = getattr(args, "dry_run", False)
    with ExitStack() as stack:
        if args.record is not None:
            record = stack.enter_context(args.record.open("wb"))
            events = _recording(events, record)
        try:
            if dry_run:
                for outgoing in events:
                    summary.add(outgoing)
                    if echo:
                        echo(outgoing)
            else:
                progress = Progress()
                progress.enabled = not args.quiet and echo is None
                publisher = stack.enter_context(_publisher(args, settings, progress))
                report = publisher.run(events, summary, pacing=pacing, echo=echo)
                print(
                    f"{report.sent} messages acknowledged by the broker in {report.seconds:.1f} s",
                    file=sys.stderr,
                )
        except CommissioningError as exc:
            return _fail(str(exc))
        except PublishError as exc:
            print(summary.render(), file=sys.stderr)
            return _fail(f"{exc} (the summary above counts what was handed to the broker)")
        except KeyboardInterrupt:
            print(summary.render(), file=sys.stderr)
            print("interrupted: the summary counts what was sent so far", file=sys.stderr)
            return 130
    return _report(args, summary, label=label, seed=seed, poles=poles)


def _report(
    args: argparse.Namespace,
    summary: RunSummary,
    *,
    label: str,
    seed: int | None,
    poles: list[PoleSpec] | None,
) -> int:
    """The summary on screen (and as JSON); exit 1 when the broker let a pole
    speak for another, or when readings stayed undelivered."""
    print(summary.render())
    if summary.undelivered_messages:
        print(
            f"smartpole simulate: {summary.undelivered_messages} messages "
            f"({sum(summary.undelivered.values())} readings) were not delivered: the broker "
            "answered 'no matching subscribers' to every attempt (is ingest running and "
            "subscribed?)",
            file=sys.stderr,
        )
    if summary.impostor_accepted:
        print(
            f"smartpole simulate: SECURITY: the broker accepted {summary.impostor_accepted} "
            "messages a pole published as another pole: its access rules are not in force",
            file=sys.stderr,
        )
    if args.summary_json is not None:
        document: dict[str, Any] = {"kind": label, **summary.as_dict()}
        if seed is not None:
            document["seed"] = seed
        if poles is not None:
            document["poles"] = [
                {
                    "pole_id": p.pole_id,
                    "district": p.district,
                    "latitude": p.latitude,
                    "longitude": p.longitude,
                    "capabilities": p.capabilities(),
                    "ev_connectors": p.ev_connectors,
                }
                for p in poles
            ]
        text = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
        if str(args.summary_json) == "-":
            sys.stdout.buffer.write(text)
            sys.stdout.flush()
        else:
            args.summary_json.write_bytes(text)
    return 1 if summary.impostor_accepted or summary.undelivered_messages else 0


def _publisher(
    args: argparse.Namespace, settings: SimulatorSettings, progress: Progress
) -> FleetPublisher:
    """With commissioning files each pole connects as itself; without, one
    shared connection with the identity of SMARTPOLE_MQTT_URL."""
    source = args.credentials or settings.simulator_credentials
    return FleetPublisher(
        settings.mqtt,
        client_id_prefix=args.client_id or f"smartpole-sim-{os.getpid()}",
        window=args.window,
        progress=progress,
        identities=commissioning.load(source) if source is not None else None,
        resend=ResendPolicy(
            settings.simulator_resend_attempts,
            settings.simulator_resend_backoff_s,
            settings.simulator_resend_backoff_max_s,
        ),
    )


def _recording(events: Iterable[Outgoing], record: IO[bytes]) -> Iterator[Outgoing]:
    for outgoing in events:
        line = record_line(outgoing)
        if line is not None:
            record.write(line)
        yield outgoing


def _echo(outgoing: Outgoing) -> None:
    """One line per message for a technician watching a single pole."""
    when = outgoing.at.strftime("%H:%M:%S")
    faults = f"  [{', '.join(outgoing.faults)}]" if outgoing.faults else ""
    verdict = "REJECTED by design" if outgoing.deliberately_invalid else "ok"
    if outgoing.action is Action.DROP:
        body = "connection lost: the broker publishes the last-will {status: offline}"
    else:
        body = outgoing.payload.decode("utf-8", errors="replace")
        if len(body) > 160:
            body = body[:157] + "..."
        if outgoing.action is not Action.PUBLISH:
            body = f"{outgoing.action.value}: {body}"
    topic = outgoing.topic.rsplit("/poles/", 1)[-1]
    print(f"{when} {topic:<22} {verdict:<18} {body}{faults}", flush=True)


def _timezone(args: argparse.Namespace, settings: SimulatorSettings) -> ZoneInfo:
    name = args.timezone or settings.timezone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name[:60]!r}") from None


def _seed(args: argparse.Namespace) -> int:
    seed: int | None = args.seed
    return seed if seed is not None else random.SystemRandom().randrange(2**31)


def _fail(message: str) -> int:
    print(f"smartpole simulate: {message}", file=sys.stderr)
    return 2
