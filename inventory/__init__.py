"""The pole inventory: the city's asset register in and out of the pole registry.

Import (`smartpole poles import`, `POST /v1/admin/poles:import`) reads a GIS
export - GeoJSON FeatureCollection or CSV - streaming, checks every row
against the registry catalogue (`models.catalogue.registry`), the city's area
and its district boundaries, reports what would change and writes it all in
one transaction or not at all (`inventory.importer`). Export writes the same
formats back (`inventory.export`), so an export imports as "nothing changed".

Layer: above `storage` (which holds the SQL), below `api`, `simulators` and
the CLI; it imports neither of those.
"""
