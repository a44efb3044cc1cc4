"""The one exception configuration raises: the CLI turns it into exit code 2."""

from __future__ import annotations


class ConfigError(ValueError):
    """A setting is missing or unusable; the message names the variable."""
