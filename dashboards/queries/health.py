"""SQL conditions over the `pole_health` view, shared by the City overview and the fleet
alerts.

The view (storage/health_view.py) is the one judgement of a pole's health, built from
the catalogue's rules with the thresholds `smartpole db migrate` wrote; `/v1/health/poles`
reads it too. These fragments only name its verdicts for the panels: none compares a
time with a threshold. Each expects the view (or a CTE over it) under the alias `p`.
"""

from __future__ import annotations

from dashboards.domain import POLE_HEALTH, literal, observed_at_column
from models.catalogue.families import CAPABILITY_FAMILIES
from models.vocabulary import Connectivity

FROM_HEALTH = f"FROM {POLE_HEALTH} p"

IS_ONLINE = f"p.connection = {literal(Connectivity.ONLINE.value)}"
IS_OFFLINE = f"p.connection = {literal(Connectivity.OFFLINE.value)}"
# Registered but never heard from. Not an alert: a pole imported from the city's GIS
# before it is installed would page for weeks.
NEVER_HEARD = f"p.connection = {literal(Connectivity.UNKNOWN.value)}"
# Device faults count while the pole talks; an offline pole's last report is history.
HAS_FAULT = "(p.lamp_fault OR p.hotspot_fault OR p.faulted_connectors > 0)"
IS_FAULTED = f"{IS_ONLINE} AND {HAS_FAULT}"
# The view lists stale sensors only for online poles.
HAS_STALE_SENSOR = "cardinality(p.stale_sensors) > 0"


def stale_since(sensor: str) -> str:
    """The newest reading time of the family a stale sensor (a capability) stands for."""
    cases = " ".join(
        f"WHEN {literal(capability.value)} THEN p.{observed_at_column(family)}"
        for capability, families in CAPABILITY_FAMILIES.items()
        for family in families
    )
    return f"CASE {sensor} {cases} END"
