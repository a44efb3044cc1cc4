.PHONY: test check bootstrap

# The one command that runs the tests (installs what is missing first).
test:
	scripts/test

bootstrap:
	scripts/bootstrap
