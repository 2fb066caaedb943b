# The README's commands. Everything installs into .venv; all state goes under $COREBRAIN_HOME
# (default ./.corebrain).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: install prepare demo test test-production ui serve bench bench-ml1m lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,production]'
	touch $@

# the dbt manifest must exist before Dagster imports the definitions
prepare: install
	$(PY) -m pipelines.dbt_project

demo: prepare
	$(BIN)/corebrain demo

test: prepare
	$(BIN)/pytest -q

# the production profile's tests (Postgres on 127.0.0.1:5432, Spark in local mode, torchrun)
test-production: prepare
	$(BIN)/pytest -q -m production

ui: prepare
	$(BIN)/corebrain ui

serve: prepare
	$(BIN)/corebrain serve

bench: prepare
	$(PY) benchmarks/ml1m.py

lint: install
	$(BIN)/ruff check pipelines models tests benchmarks

clean:
	rm -rf .corebrain dbt_project/target dbt_project/logs
