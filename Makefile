.PHONY: test check bootstrap run readme dashboards lock lock-upgrade fresh-machine-check

# The one command that runs the tests (installs what is missing first).
test:
	scripts/test

# Installs what `make run` needs (`scripts/bootstrap --tests`: and what the tests need).
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

# Remakes requirements/*.lock from pyproject.toml, keeping every pin it can
# (README: Reproducible installs); lock-upgrade takes the newest allowed versions.
lock:
	scripts/lock

lock-upgrade:
	scripts/lock --upgrade

# The README's two commands on a minimal Debian 12 in a chroot (root; 5-15 min).
fresh-machine-check:
	scripts/fresh-machine-check
