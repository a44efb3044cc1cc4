.PHONY: test check bootstrap run readme dashboards

# The one command that runs the tests (installs what is missing first).
test:
	scripts/test

bootstrap:
	scripts/bootstrap

# The one command that runs the platform (README: `make run`): installs what is
# missing, then `smartpole up`. Ctrl-C stops everything it started.
run: bootstrap
	.venv/bin/smartpole up

# Regenerates the parts of README.md generated from the code (settings, MQTT
# fields, dashboards and alerts).
readme: bootstrap
	.venv/bin/python -m smartpole.readme_blocks --write

# Regenerates dashboards/json, dashboards/provisioning and the README's dashboard
# and alert tables from dashboards/ and the domain catalogue.
dashboards: bootstrap
	.venv/bin/smartpole dashboards build
	.venv/bin/python -m smartpole.readme_blocks --write
