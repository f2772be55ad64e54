# One place for the commands a developer types. `make test` works from a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: venv test unit lint bench bench-offsite bench-binlog bench-pitr demo clean

venv: $(BIN)/.installed

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

test: venv
	$(BIN)/ruff check afirgen_backup tests benchmarks demo backup_database.py
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: venv
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check afirgen_backup tests benchmarks demo backup_database.py
	$(BIN)/ruff format --check afirgen_backup tests benchmarks demo backup_database.py
	$(BIN)/mypy --ignore-missing-imports afirgen_backup

# The demo installs what this machine lacks first (a MariaDB server and client, Python's venv), as .ci/run does.
demo:
	tools/install-system-packages demo
	$(MAKE) --no-print-directory venv
	$(BIN)/python -m demo

bench: venv
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

bench-offsite: venv
	$(BIN)/python -m benchmarks.offsite $(BENCH_ARGS)

bench-binlog: venv
	$(BIN)/python -m benchmarks.binlog_lag $(BENCH_ARGS)

bench-pitr: venv
	$(BIN)/python -m benchmarks.pitr_restore $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .coverage
