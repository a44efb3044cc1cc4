"""The inventory of simulated poles, in the format `smartpole poles import` reads.

`smartpole simulate fleet|pole --inventory FILE` writes it; `smartpole up`
imports it before its fleet starts, so the registry knows every simulated
pole's position, district, equipment and connectors from the first minute.
Written by the inventory export's own functions: what a simulator registers
is exactly what an export of the registry would say about it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inventory.export import write_geojson
from models.vocabulary import Capability, PlugType
from simulators.city import PoleSpec

# The simulated chargers are AC wallboxes on the pole: Type 2 sockets.
SIMULATED_PLUG = PlugType.TYPE2


def pole_entry(pole: PoleSpec) -> dict[str, Any]:
    """The registry entry of one simulated pole."""
    return {
        "pole_id": pole.pole_id,
        "name": f"{pole.district} {pole.pole_id.rsplit('-', 1)[-1].lstrip('0') or '0'}",
        "district": pole.district,
        "latitude": pole.latitude,
        "longitude": pole.longitude,
        "capabilities": [Capability(c).value for c in pole.capabilities()],
        "connectors": [
            {"connector_id": n, "max_power_kw": pole.ev_power_kw, "plug_type": SIMULATED_PLUG.value}
            for n in range(1, pole.ev_connectors + 1)
        ],
        "lamp_rated_power_w": pole.lamp_watts,
        "notes": "simulated pole (smartpole simulate)",
        "properties": {"simulated": True},
    }


def write_inventory(path: Path, poles: list[PoleSpec]) -> int:
    """Write the poles' inventory as GeoJSON (replacing the file atomically)."""
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as out:
        count = write_geojson([[pole_entry(p) for p in poles]], out)
    partial.replace(path)
    return count
