# The test command of the README: installs everything the suite needs, then runs it.
PYTHON ?= python3
VENV ?= .venv
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)

.PHONY: test run install chromium

install:
	[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'

# Debian's Chromium drives the browser tests; Playwright never downloads a browser of its own.
chromium:
	[ -x /usr/bin/chromium ] || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver; }

test: install chromium
	$(VENV)/bin/python -m pytest

run:
	[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -e .
	$(VENV)/bin/workbench run
