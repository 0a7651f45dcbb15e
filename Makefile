# Two commands on a fresh machine: `make run` and `make test` (README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install run test lint typecheck check clean

$(BIN)/atp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[server,dev]'
	@touch $@

install: $(BIN)/atp

run: install
	$(BIN)/atp serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# The whole suite: lint, types, then every test on SQLite and (with
# ATP_TEST_DATABASE_URL) PostgreSQL.
test: lint typecheck
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
