"""The SensorThings MQTT extension (receive updates): the platform publisher."""
