# The few verbs a newcomer needs. Each target installs what it needs itself the first time.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# The suite runs on the Lambda's Python (LAMBDA_RUNTIME in infra/config.py; a test keeps the two equal):
# python3.13 from PATH or pyenv, else python3 with a warning.
LAMBDA_PYTHON := 3.13
PYTHON := $(or $(shell scripts/find-python.sh $(LAMBDA_PYTHON)),python3)
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
# Named after the Python it was built with, so choosing another one rebuilds the venv.
VENV_STAMP := $(VENV)/.installed-python$(PYTHON_VERSION)
CDK := node_modules/.bin/cdk
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help deps run test unit integration lint format typecheck invoke synth deploy destroy smoke bench openapi clean browser-deps

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV_STAMP): pyproject.toml
ifneq ($(PYTHON_VERSION),$(LAMBDA_PYTHON))
	@echo "warning: no Python $(LAMBDA_PYTHON) (the Lambda's) on PATH or under pyenv; .venv gets $(PYTHON) ($(or $(PYTHON_VERSION),not found))" >&2
endif
	@# A venv of another Python is rebuilt, not patched: its packages were built for that one.
	@had="$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)"; \
	if [ "$$had" != "$(PYTHON_VERSION)" ]; then \
		if [ -n "$$had" ]; then echo "$(VENV) runs Python $$had: rebuilding it with $(PYTHON_VERSION)"; fi; \
		rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); fi
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed*
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

deps: $(VENV_STAMP) node_modules/.installed ## install the Python and npm dependencies

run: deps ## the API, signaling and pages on http://127.0.0.1:3000 (PORT) over DynamoDB Local
	$(PY) -m localrun

test: deps browser-deps lint typecheck ## lint, types and the whole test suite
	$(PY) -m pytest

unit: deps ## the fast tests only (no DynamoDB Local)
	$(PY) -m pytest tests/unit

lint: deps ## ruff check + ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: deps ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: deps ## mypy on functions/, infra/ and tools/
	$(BIN)/mypy

invoke: deps ## run one event through the handler against the local database: make invoke EVENT=events/minimal.json
	$(PY) -m localrun.invoke $(EVENT)

clean: ## remove what the targets installed and built (keeps .local data)
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache

openapi: deps ## regenerate docs/openapi.json from the handler's routes and the models
	$(PY) -m openapi_spec --write

browser-deps: ## headless Chromium for the browser tests: Debian's chromium + chromium-driver (sudo if not root)
	scripts/ensure-chromium.sh

bench: deps ## cold and warm figures against their floor, beside their budgets (BENCH_ARGS="--report-only --compare REV")
	$(PY) -m bench $(BENCH_ARGS)

# --- The AWS stack (infra/, cdk.json). STAGE picks the stage: make deploy STAGE=prod ---
STAGE ?= dev

synth: deps ## synthesize the stack offline into cdk.out (cdk-nag runs), then cfn-lint it; STAGE=dev|prod
	$(CDK) synth --quiet -c stage=$(STAGE)
	$(BIN)/cfn-lint cdk.out/VideoCallsApi-$(STAGE).template.json

deploy: deps ## deploy the stack with your AWS credentials (docs/deploy.md); STAGE=dev|prod
	$(CDK) deploy -c stage=$(STAGE)

destroy: deps ## delete the stack; prod keeps its tables and logs (RETAIN); STAGE=dev|prod
	$(CDK) destroy -c stage=$(STAGE)

smoke: deps ## end-to-end test of a deployed stage or the local run: make smoke URL=<ApiUrl> APP_ID=... WIDGET_KEY=...
	SMOKE_URL='$(URL)' SMOKE_APP_ID='$(APP_ID)' SMOKE_WIDGET_KEY='$(WIDGET_KEY)' $(PY) -m pytest tests/smoke -v -rs
