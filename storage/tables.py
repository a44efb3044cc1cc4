"""Names shared by the writer, the migrations and the read side."""

from __future__ import annotations

from models.topics import Family

READING_TABLES: dict[Family, str] = {
    Family.ENV: "env_readings",
    Family.LIGHT: "light_readings",
    Family.WIFI: "wifi_readings",
    Family.EV: "ev_readings",
    Family.STATUS: "status_events",
}
