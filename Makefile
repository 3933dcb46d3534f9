# predwatch — the two commands of the README:
#   make demo   run the monitor on the embedded default (broker + Redis started for you)
#   make test   run the test suite (services started by the fixtures)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test test-all bench system-deps dashboards lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[embedded,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/predwatch demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)   # with the opt-in fault and soak runs
	$(BIN)/python -m pytest -q -m "slow or not slow"

bench: $(STAMP)
	$(BIN)/python bench/publish.py
	$(BIN)/python bench/detectors.py
	$(BIN)/python bench/worker.py
	$(BIN)/python bench/registry.py
	$(BIN)/python bench/evaluate.py

# Debian packages used by some tests (they skip, saying why, when these are missing)
system-deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus docker-compose

dashboards: $(STAMP)
	$(BIN)/predwatch dashboards export grafana/generated

lint: $(STAMP)
	$(BIN)/ruff check streams agents detectors registry evaluation grafana tests bench

clean:
	rm -rf $(VENV) .pytest_cache
