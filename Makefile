.PHONY: test check bootstrap run settings-table dashboards

# The one command that runs the tests (installs what is missing first).
test:
	scripts/test

bootstrap:
	scripts/bootstrap

# The one command that runs the platform (README: `make run`): installs what is
# missing, then `smartpole up`. Ctrl-C stops everything it started.
run: bootstrap
	.venv/bin/smartpole up

# Regenerates the configuration reference in README.md from smartpole/settings.py.
settings-table: bootstrap
	.venv/bin/python -m smartpole.settings_table --write

# Regenerates dashboards/json, dashboards/provisioning and the README's dashboard and
# alert tables from dashboards/ and the domain catalogue.
dashboards: bootstrap
	.venv/bin/smartpole dashboards build
	.venv/bin/python -m dashboards.readme --write
