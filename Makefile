# The two commands of the README: `make demo` and `make test`.  Both create the virtual environment
# in .venv/ when it is missing (or when pyproject.toml changed) and install the pinned versions.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev,bench,semantic,orchestration,postgres,spark]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/credit-score demo

# sqlfluff in two processes: 23 s instead of 40 here (the dbt templater compiles the project once)
lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/sqlfluff lint --processes 2 models macros data-tests

# Two workers, a file at a time each, in the order tests/conftest.py gives (the longest first, so
# that they finish together): --no-loadscope-reorder, or xdist would start the files with the most
# tests first and Spark's 25 minutes would begin at the 20th.
test: lint
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

clean:
	rm -rf target logs data warehouse whatif report docs-site
