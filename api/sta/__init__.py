"""The OGC SensorThings API 1.1 facade (/sta/v1.1), read-only."""

from api.sta.router import router

__all__ = ["router"]
