# Steward: `make run` sets everything up and starts the platform; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test test-quick install install-dev lint bench-register clean-data

$(VENV)/.installed: requirements.txt client/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	# The Python client and its `steward` command (its dependencies are pinned in requirements.txt).
	$(PY) -m pip install --quiet --no-deps -e client
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.dev-installed
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium could not be installed: the browser test will be skipped"

run: install
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py collectstatic --noinput -v 0
	$(PY) manage.py steward_setup
	$(PY) manage.py steward_run

test: install-dev
	$(PY) -m pytest

# The local loop: everything but the tests that start a real celery worker or drive chromium (CI runs those).
test-quick: install-dev
	$(PY) -m pytest -m "not worker and not browser"

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

bench-register: install
	$(PY) bench/register.py
