"""What a run sent, counted in the units the platform stores.

- readings, not messages: an array of 5 readings is 5 readings;
- distinct natural keys: a duplicate send (or a clock jumping back onto an
  earlier timestamp) is sent twice but stored once, and counted as a
  duplicate here;
- quarantine rows as ingest merges them: identical rejects (same topic,
  same bytes, same array position) are one row whose times_seen grows;
- status events: every status with its own time, plus every last-will (which
  the platform times by its arrival, so each one is a new event).

- delivery: a reading the broker answered with "no matching subscribers"
  (PUBACK 0x10: nobody took it) is resent; one still unanswered after the
  last attempt is counted as undelivered and taken out of what the platform
  is expected to hold (see simulators/publisher.py).

`expected_tables` is what a technician compares with the platform:
`SELECT count(*) FROM env_readings` and so on, on a database that held
nothing else.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from models.catalogue.families import FAMILIES
from models.topics import Family
from simulators.generator import Action, Outgoing, QuarantineKey, StoredKey

TABLE_FOR_FAMILY = {family: spec.table for family, spec in FAMILIES.items()}
# Keys older than this behind a stream's newest one can no longer be hit
# again (the largest accepted clock jump back is 30 min), so they are
# forgotten: a day-long fleet run must not keep every key in memory.
KEY_MEMORY = timedelta(hours=6)


@dataclass(slots=True)
class _Stream:
    memory: timedelta | None
    seen: set[datetime] = field(default_factory=set)
    order: deque[datetime] = field(default_factory=deque)
    newest: datetime | None = None

    def forget(self, observed_at: datetime) -> None:
        """A key that was never stored after all (undelivered): a later send is new."""
        self.seen.discard(observed_at)

    def add(self, observed_at: datetime) -> bool:
        """True when the key is new (the platform will store a row)."""
        if observed_at in self.seen:
            return False
        self.seen.add(observed_at)
        self.order.append(observed_at)
        if self.newest is None or observed_at > self.newest:
            self.newest = observed_at
        if self.memory is not None:
            while self.order and self.order[0] < self.newest - self.memory:
                self.seen.discard(self.order.popleft())
        return True


@dataclass(frozen=True, slots=True)
class Counted:
    """What `RunSummary.add` counted for one message as new rows in the
    platform: taken back if the message turns out undelivered."""

    stored: tuple[tuple[str, StoredKey], ...] = ()  # (family, key)
    quarantined: tuple[QuarantineKey, ...] = ()


@dataclass(slots=True)
class RunSummary:
    # None: remember every key (a replay may repeat a reading from long ago).
    key_memory: timedelta | None = KEY_MEMORY
    messages: int = 0
    messages_valid: int = 0
    messages_invalid: int = 0
    readings_sent: Counter[str] = field(default_factory=Counter)
    readings_stored: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    invalid_readings: Counter[str] = field(default_factory=Counter)
    last_wills: int = 0
    quarantine_rows: int = 0
    quarantine_times_seen: int = 0
    by_fault: dict[str, Counter[str]] = field(default_factory=dict)
    first_observed: datetime | None = None
    last_observed: datetime | None = None
    # Impostor attempts and what the broker made of them (set by the publisher).
    impostor_attempts: int = 0
    impostor_refused: int = 0
    impostor_accepted: int = 0
    # Delivery (set by the publisher): PUBACK 0x10 answers, the resends they
    # caused, and the readings still not taken after the last attempt.
    no_subscribers_answers: int = 0
    resends: int = 0
    undelivered_messages: int = 0
    undelivered: Counter[str] = field(default_factory=Counter)
    # The natural keys of undelivered readings that were new: not in the platform.
    undelivered_keys: list[StoredKey] = field(default_factory=list)
    _streams: dict[tuple[str, Family, int | None], _Stream] = field(default_factory=dict)
    _quarantined: set[QuarantineKey] = field(default_factory=set)

    def add(self, outgoing: Outgoing) -> Counted:
        self.messages += 1
        stored: list[tuple[str, StoredKey]] = []
        quarantined: list[QuarantineKey] = []
        self._count_message(outgoing)
        for fault in outgoing.faults:
            counts = self.by_fault.setdefault(fault.value, Counter())
            counts["messages"] += 1
        for item in outgoing.items:
            family = item.family.value
            if item.valid:
                self.readings_sent[family] += 1
                if item.last_will:
                    self.last_wills += 1
                    self.readings_stored[family] += 1
                elif item.stored_key is not None and self._new_key(item.stored_key):
                    self.readings_stored[family] += 1
                    stored.append((family, item.stored_key))
                else:
                    self.duplicates[family] += 1
            else:
                self.invalid_readings[family] += 1
                self.quarantine_times_seen += 1
                if item.quarantine_key is not None and item.quarantine_key not in self._quarantined:
                    self._quarantined.add(item.quarantine_key)
                    self.quarantine_rows += 1
                    quarantined.append(item.quarantine_key)
            for fault in item.faults:
                counts = self.by_fault.setdefault(fault.value, Counter())
                counts["valid" if item.valid else "invalid"] += 1
        if outgoing.action is not Action.DROP:
            self._saw(outgoing.at)
        return Counted(tuple(stored), tuple(quarantined))

    def add_undelivered(self, outgoing: Outgoing, counted: Counted) -> None:
        """The broker never took `outgoing` (resent to the limit): what it
        would have added to the platform is taken back and counted here."""
        self.undelivered_messages += 1
        for item in outgoing.items:
            if item.valid:
                self.undelivered[item.family.value] += 1
        for family, key in counted.stored:
            pole_id, fam, connector_id, observed_at = key
            self.undelivered_keys.append(key)
            self.readings_stored[family] -= 1
            stream = self._streams.get((pole_id, fam, connector_id))
            if stream is not None:
                stream.forget(observed_at)
        for rejected in counted.quarantined:
            self.quarantine_rows -= 1
            self._quarantined.discard(rejected)

    def _count_message(self, outgoing: Outgoing) -> None:
        if outgoing.impersonates is not None:  # not for the platform: the broker refuses it
            self.impostor_attempts += 1
            self.messages_invalid += 1
        elif outgoing.deliberately_invalid:
            self.messages_invalid += 1
        else:
            self.messages_valid += 1

    def _new_key(self, key: StoredKey) -> bool:
        pole_id, family, connector_id, observed_at = key
        stream = self._streams.setdefault((pole_id, family, connector_id), _Stream(self.key_memory))
        return stream.add(observed_at)

    def _saw(self, at: datetime) -> None:
        if self.first_observed is None or at < self.first_observed:
            self.first_observed = at
        if self.last_observed is None or at > self.last_observed:
            self.last_observed = at

    def expected_tables(self) -> dict[str, int]:
        tables = {table: self.readings_stored[f.value] for f, table in TABLE_FOR_FAMILY.items()}
        tables["quarantine"] = self.quarantine_rows
        return tables

    def as_dict(self) -> dict[str, Any]:
        families = [f.value for f in Family]
        return {
            "messages": {
                "sent": self.messages,
                "valid": self.messages_valid,
                "deliberately_invalid": self.messages_invalid,
            },
            "readings": {
                family: {
                    "sent_valid": self.readings_sent[family],
                    "stored": self.readings_stored[family],
                    "duplicates": self.duplicates[family],
                    "deliberately_invalid": self.invalid_readings[family],
                    "undelivered": self.undelivered[family],
                }
                for family in families
                if self.readings_sent[family] or self.invalid_readings[family]
            },
            "last_wills": self.last_wills,
            "quarantine": {
                "rows": self.quarantine_rows,
                "times_seen": self.quarantine_times_seen,
            },
            "faults": {
                fault: dict(sorted(c.items())) for fault, c in sorted(self.by_fault.items())
            },
            "impostor": {
                "attempts": self.impostor_attempts,
                "refused_by_broker": self.impostor_refused,
                "accepted_by_broker": self.impostor_accepted,
            },
            "delivery": {
                "no_subscribers_answers": self.no_subscribers_answers,
                "resends": self.resends,
                "undelivered_messages": self.undelivered_messages,
                "undelivered_readings": sum(self.undelivered.values()),
            },
            "expected_tables": self.expected_tables(),
            "time_span": {
                "first": self.first_observed.isoformat() if self.first_observed else None,
                "last": self.last_observed.isoformat() if self.last_observed else None,
            },
        }

    def render(self) -> str:
        """The summary as a technician reads it at the end of a run."""
        lines = [
            f"messages sent: {self.messages} ({self.messages_valid} valid, "
            f"{self.messages_invalid} deliberately invalid)",
            "readings per family:            sent   stored  duplicates  invalid",
        ]
        for family in (f.value for f in Family):
            sent, invalid = self.readings_sent[family], self.invalid_readings[family]
            if sent or invalid:
                lines.append(
                    f"  {family:<8} {sent:>21} {self.readings_stored[family]:>8} "
                    f"{self.duplicates[family]:>11} {invalid:>8}"
                )
        lines.append(f"last-wills fired: {self.last_wills}")
        lines.append(
            f"quarantine: {self.quarantine_rows} rows "
            f"({self.quarantine_times_seen} rejected readings)"
        )
        if self.by_fault:
            lines.append("faults:                messages  valid readings  invalid readings")
            for fault, counts in sorted(self.by_fault.items()):
                lines.append(
                    f"  {fault:<18} {counts['messages']:>10} {counts['valid']:>15} "
                    f"{counts['invalid']:>17}"
                )
        if self.impostor_attempts:
            lines.append(
                f"impostor: {self.impostor_attempts} messages published as another pole; "
                f"the broker refused {self.impostor_refused}, accepted {self.impostor_accepted}"
            )
        if self.no_subscribers_answers or self.undelivered_messages:
            lines.append(
                f"delivery: {self.no_subscribers_answers} answered 'no matching subscribers' "
                f"(not stored), {self.resends} resent; UNDELIVERED after the last attempt: "
                f"{self.undelivered_messages} messages, {sum(self.undelivered.values())} readings"
                " (not in the expected counts below)"
            )
        expected = ", ".join(f"{t}={n}" for t, n in self.expected_tables().items())
        lines.append(f"expect in the platform: {expected}")
        return "\n".join(lines)
