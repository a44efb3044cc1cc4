"""Ingest counters: logged periodically and kept for the benchmark and tests."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class IngestStats:
    messages_received: int = 0
    readings_stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    batches: int = 0
    batch_seconds_total: float = 0.0
    batch_seconds_max: float = 0.0
    write_retries: int = 0

    def record_batch(self, seconds: float) -> None:
        self.batches += 1
        self.batch_seconds_total += seconds
        self.batch_seconds_max = max(self.batch_seconds_max, seconds)

    def snapshot(self) -> dict[str, float | int]:
        figures: dict[str, float | int] = asdict(self)
        figures["batch_ms_avg"] = round(1000 * self.batch_seconds_total / max(self.batches, 1), 2)
        figures["batch_ms_max"] = round(1000 * self.batch_seconds_max, 2)
        del figures["batch_seconds_total"], figures["batch_seconds_max"]
        return figures
