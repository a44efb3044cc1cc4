.PHONY: test check bootstrap run readme

# The one command that runs the tests (installs what is missing first).
test:
	scripts/test

bootstrap:
	scripts/bootstrap

# The one command that runs the platform (README: `make run`): installs what is
# missing, then `smartpole up`. Ctrl-C stops everything it started.
run: bootstrap
	.venv/bin/smartpole up

# Regenerates the parts of README.md generated from the code (settings, MQTT fields).
readme: bootstrap
	.venv/bin/python -m smartpole.readme_blocks --write
