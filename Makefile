# Two commands for a fresh machine with Python 3.11+ and make: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
export LIKEWISE_DATA_DIR ?= $(CURDIR)/var

.PHONY: run test browser bench lint install clean container-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install whenever the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	PORT=$(PORT) $(BIN)/python -m web.processes.launch

# The browser tests (tests/browser) drive a real headless Chromium: install Debian's when it is missing.
# (Playwright's own browser download is not used.)
SUDO := $(shell [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && echo sudo)

browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  command -v apt-get >/dev/null 2>&1 || { echo "make test: install Chromium (the browser tests need it)"; exit 1; }; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

test: install browser
	$(BIN)/python -m pytest -q

# `make bench` (QUICK=1: a short run). wrk drives the HTTP sections: Debian's is installed when missing;
# if that fails the benchmarks use a slower Python load client and say so in the table.
bench: install
	@command -v wrk >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } || \
	  echo "make bench: wrk could not be installed; the HTTP sections use the Python load client"
	$(BIN)/python -m benchmarks.run $(if $(QUICK),--quick,)

# `make container-test` builds the images and runs the production compose stack under podman, checks it
# through its published ports and removes everything it made (tests/container/check_stack.py). Needs root
# (or sudo) for debootstrap and podman; installs Debian's podman, podman-compose, runc and debootstrap
# when missing. The podman settings come from deploy/containers.conf, never the machine's own files.
CONTAINER_TEST_SECONDS ?= 2700

container-test: install
	@missing=""; for tool in podman podman-compose runc debootstrap; do \
	  command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
	  command -v apt-get >/dev/null 2>&1 || { echo "make container-test: install$$missing"; exit 1; }; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman podman-compose runc debootstrap; fi
	$(SUDO) env CONTAINERS_CONF=$(CURDIR)/deploy/containers.conf timeout -k 60 $(CONTAINER_TEST_SECONDS) \
	  $(BIN)/python -u -m tests.container.check_stack

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var
