# Quick start: `make demo` runs a whole office on 127.0.0.1; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test soak lint bench translations clean

$(STAMP): setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/motcua demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Two workers (pytest-xdist), one per core of the machines we target: the suite runs in half the time.
test: lint
	$(BIN)/python -m pytest -q -n 2

# The long fault runs (2,000 dossiers through a bad link, 200 kills of the sync worker).
soak: $(STAMP)
	$(BIN)/python -m pytest -q -m soak

bench: $(STAMP)
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/print.py
	$(BIN)/python bench/queue_bench.py

# After changing UI text: extract the Vietnamese msgids and check the English catalogue; the test
# prints every missing entry as .po text, ready to paste and translate.
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output -o $(VENV)/messages.pot ui
	$(BIN)/python -m pytest -q tests/test_translations.py

clean:
	rm -rf $(VENV) demo-data .pytest_cache .mypy_cache .ruff_cache .hypothesis
