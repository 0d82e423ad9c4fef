# Two commands matter: `make run` (set up, then run the pipeline on the bundled sample) and
# `make test` (set up, then run the test suite). Everything lives in .venv under the repo.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster

.PHONY: setup run test ui status bench clean-warehouse privacy-tools .venv-pycanon .venv-anonymeter clean-privacy-tools

# Independent privacy libraries for the tests, each in its own pinned venv because their pins clash with ours
# (pycanon: pandas 2.3.3 / numpy 2.0.2; anonymeter: numpy<1.27, pyarrow<22). tests/privacy_tools calls them by
# subprocess. Only `make test` needs them, never `make run`. A venv is rebuilt from scratch when its requirements
# file changes; its stamp is written last, so a half-built venv counts as absent. --no-compile: byte-compiling all of
# scipy/scikit-learn at install costs more than compiling, on first import, the few modules the checks use.
PRIVACY_REQS := tests/privacy_tools
PYCANON_STAMP := .venv-pycanon/.installed
ANONYMETER_STAMP := .venv-anonymeter/.installed

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

$(PYCANON_STAMP): $(PRIVACY_REQS)/requirements-pycanon.txt
	rm -rf .venv-pycanon
	$(PYTHON) -m venv .venv-pycanon
	.venv-pycanon/bin/python -m pip install --quiet --no-compile -r $<
	.venv-pycanon/bin/python -c "import pycanon.anonymity"
	touch $@

$(ANONYMETER_STAMP): $(PRIVACY_REQS)/requirements-anonymeter.txt
	rm -rf .venv-anonymeter
	$(PYTHON) -m venv .venv-anonymeter
	.venv-anonymeter/bin/python -m pip install --quiet --no-compile -r $<
	.venv-anonymeter/bin/python -c "import anonymeter.evaluators"
	touch $@

.venv-pycanon: $(PYCANON_STAMP)
.venv-anonymeter: $(ANONYMETER_STAMP)
privacy-tools: $(PYCANON_STAMP) $(ANONYMETER_STAMP)

run: setup
	$(BIN)/survey-pipeline run --seed-sample

# Lint and format check first (seconds), then the suite spread over the machine's cores (at most 4 workers),
# printing the 15 slowest tests.
test: setup privacy-tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q --numprocesses=auto --maxprocesses=4 --durations=15

ui: setup
	$(BIN)/survey-pipeline ui

status: setup
	$(BIN)/survey-pipeline status

bench: setup
	$(BIN)/python bench/benchmark.py

clean-warehouse:
	rm -rf data/warehouse/*.duckdb data/warehouse/*.duckdb.wal data/research data/public data/staging .dagster/storage .dagster/history .dagster/schedules .dagster/.telemetry

clean-privacy-tools:
	rm -rf .venv-pycanon .venv-anonymeter
