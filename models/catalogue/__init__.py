"""The domain catalogue: families, metrics, units, health rules, EU limits.

Written once here; the wire models, the writer, the read queries, the API,
the dashboards, the alerts and the simulators all read it.
"""

from models.catalogue.families import (
    CAPABILITY_FAMILIES,
    ENV_METRICS,
    FAMILIES,
    METRIC_FAMILIES,
    Aggregation,
    FamilySpec,
    FieldSpec,
    find_metric,
)
from models.catalogue.units import Unit

__all__ = [
    "CAPABILITY_FAMILIES",
    "ENV_METRICS",
    "FAMILIES",
    "METRIC_FAMILIES",
    "Aggregation",
    "FamilySpec",
    "FieldSpec",
    "Unit",
    "find_metric",
]
