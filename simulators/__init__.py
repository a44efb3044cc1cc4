"""Pole simulators: a seeded generator of what real poles publish, and a
publisher that sends it to the broker the way poles do (MQTT v5, QoS 1)."""
