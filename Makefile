# The two Quick start commands: `make up` (set up and start the platform) and `make test`
# (set up and run every check CI runs). Both create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
RUNTIME_STAMP := $(VENV)/.installed

.PHONY: up test lint typecheck unit audit bench clean lock web web-build screenshots

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

# The dashboard: install from the lock, check the generated API client and the committed bundle
# are fresh, then type-check, lint, format-check and unit-test it.
WEB_STAMP := web/node_modules/.installed

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

web-build: $(WEB_STAMP) $(STAMP)
	$(BIN)/python tools/dump_openapi.py web/openapi.json
	cd web && npm run --silent gen:api
	cd web && npm run --silent build

web: web-build
	cd web && npx tsc -b && npx eslint . && npx prettier --check . && npx vitest run
	bash tools/npm_audit.sh web
	@git diff --quiet -- web/src/api/schema.d.ts || \
	  (echo "web/src/api/schema.d.ts is stale: run 'make web-build' and commit it"; exit 1)
	@test -z "$$(git status --porcelain -- src/quantum_orchestrator/web/dist)" || \
	  (git status --short -- src/quantum_orchestrator/web/dist; \
	   echo "the committed dashboard bundle is stale: run 'make web-build' and commit it"; exit 1)

# Refresh the README's screenshots from the browser suite (real data, real Chromium).
screenshots: $(STAMP)
	QO_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/pytest -p no:cacheprovider -q tests/browser

test: lint typecheck audit web unit

bench: $(RUNTIME_STAMP)
	bash bench/run_all.sh

lock:
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 -o requirements/runtime.txt --no-header --quiet
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements/constraints.txt --no-header --quiet

clean:
	rm -rf $(VENV) .coverage .coverage.* coverage.xml .mypy_cache .ruff_cache
