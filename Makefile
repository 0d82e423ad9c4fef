# Two commands matter: `make run` (set up, then run the pipeline on the bundled sample) and
# `make test` (set up, then run the test suite). Everything lives in .venv under the repo.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster

.PHONY: setup run test ui status bench clean-warehouse

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/survey-pipeline run --seed-sample

test: setup
	$(BIN)/python -m pytest -q

ui: setup
	$(BIN)/survey-pipeline ui

status: setup
	$(BIN)/survey-pipeline status

bench: setup
	$(BIN)/python bench/benchmark.py

clean-warehouse:
	rm -rf data/warehouse/*.duckdb data/warehouse/*.duckdb.wal data/staging .dagster/storage .dagster/history .dagster/schedules .dagster/.telemetry
