# The two Quick start commands: `make up` (set up and start the platform) and `make test`
# (set up and run every check CI runs). Both create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
RUNTIME_STAMP := $(VENV)/.installed

.PHONY: up test lint typecheck unit audit bench clean lock

$(RUNTIME_STAMP): pyproject.toml requirements/runtime.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/runtime.txt -e .
	touch $@

$(STAMP): $(RUNTIME_STAMP) requirements/constraints.txt
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[dev]'
	touch $@

up: $(RUNTIME_STAMP)
	$(BIN)/qo up

lint: $(STAMP)
	$(BIN)/ruff check src tests bench docs tools examples
	$(BIN)/ruff format --check src tests bench docs tools examples
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	rm -f .coverage .coverage.*
	QO_E2E_COVERAGE=1 $(BIN)/pytest -p no:cacheprovider --cov --cov-report=term --cov-report=xml

# pip-audit asks PyPI about each pinned release; where that endpoint is not served, the
# second check still covers every pin that is its project's latest release.
audit: $(STAMP)
	$(BIN)/pip-audit --progress-spinner off --skip-editable
	$(BIN)/python tools/pypi_audit.py requirements/constraints.txt

test: lint typecheck audit unit

bench: $(RUNTIME_STAMP)
	bash bench/run_all.sh

lock:
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 -o requirements/runtime.txt --no-header --quiet
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements/constraints.txt --no-header --quiet

clean:
	rm -rf $(VENV) .coverage .coverage.* coverage.xml .mypy_cache .ruff_cache
