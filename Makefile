PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format bench dev schema clean

# PYTHONWARNINGS: setuptools always prints an informational notice about editable installs of a
# multi-package (non-src) layout; that one module's warnings are silenced, nothing else
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS=ignore:::setuptools.command.editable_wheel $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/disparo-agenda demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

dev: $(STAMP)
	$(BIN)/disparo-agenda dev

# sql/schema.sql from the migrations (after adding one; tests/integration/test_schema.py checks it)
schema: $(STAMP)
	$(BIN)/disparo-agenda db schema -o sql/schema.sql

clean:
	rm -rf $(VENV) .data .pytest_cache
