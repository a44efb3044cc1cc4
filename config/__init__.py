"""Configuration: the settings of each service, read once from the environment.

The bottom layer next to `models/`: every other package may import it, it
imports nothing of smartpole's but the domain catalogue (for defaults such as
the health thresholds). Nothing else reads `os.environ` for configuration.
"""

from config.endpoints import MqttEndpoint
from config.errors import ConfigError

__all__ = ["ConfigError", "MqttEndpoint"]
