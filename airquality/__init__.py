"""Air-quality statistics as the authorities compute them, and the checks that make
low-cost sensor data trustworthy (quality flags, co-location, calibration).

`official` and `quality`, `calibration`, `colocation` are pure functions over hourly
means (no I/O): the rules live there, tested on synthetic data with known answers.
`service` loads a site's hourly means from storage and applies them; `stations` parses
reference-station exports. Values and rules come from `models.catalogue.air_quality`.
"""
