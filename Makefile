# The two Quickstart commands are `make up` and `make test`; everything else is for developers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The suite runs twice: on PostgreSQL + Redis (production shape) and on embedded SQLite.
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/modelyard
PYTEST_ARGS ?=

.PHONY: up test test-postgres test-sqlite lint format clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "modelyard needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

up: $(BIN)/.installed
	$(BIN)/modelyard up

test: test-postgres test-sqlite

test-postgres: $(BIN)/.installed
	MODELYARD_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m pytest $(PYTEST_ARGS)

test-sqlite: $(BIN)/.installed
	MODELYARD_DATABASE_URL= $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy src
	$(BIN)/lint-imports --no-logo

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .modelyard .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
