"""Who may talk to the broker, and how they prove it.

The broker is Mosquitto with its dynamic security plugin: every pole and
every platform service has its own identity (username, password, and for a
pole a bound client id) and roles that say which topics it may publish and
subscribe. This package holds those roles (`roles`), the first configuration
a new broker starts from (`bootstrap`), the administration channel
`$CONTROL/dynamic-security/v1` (`dynsec`), the lifecycle of pole credentials
(`credentials`, with their registry in storage), the commissioning files a
field technician gets (`commissioning`), TLS for clients (`client`) and
development certificates (`certs`).

Layer: below ingest, api, simulators and the CLI; above storage and config.
"""
