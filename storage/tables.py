"""Storage names derived from the domain catalogue, for the writer, the
migrations' checks and the read side."""

from __future__ import annotations

from models.catalogue.families import FAMILIES
from models.topics import Family

READING_TABLES: dict[Family, str] = {family: spec.table for family, spec in FAMILIES.items()}
# The hourly env rollup the writer keeps (storage/readmodels).
ENV_HOURLY_TABLE = "env_hourly"
# Each reading row's number (a default, never in the writer's COPY layout): the
# SensorThings Observation ids derive from it (migration 0040, models/sensorthings).
READING_ID_COLUMN = "reading_id"
