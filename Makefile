.PHONY: test check bootstrap run settings-table lock lock-upgrade fresh-machine-check

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

# Regenerates the configuration reference in README.md from smartpole/settings.py.
settings-table: bootstrap
	.venv/bin/python -m smartpole.settings_table --write

# Remakes requirements/*.lock from pyproject.toml, keeping every pin it can
# (README: Reproducible installs); lock-upgrade takes the newest allowed versions.
lock:
	scripts/lock

lock-upgrade:
	scripts/lock --upgrade

# The README's two commands on a minimal Debian 12 in a chroot (root; 5-15 min).
fresh-machine-check:
	scripts/fresh-machine-check
