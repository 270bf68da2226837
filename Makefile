# matchlab — `make run` and `make test` work from a clean clone (they set up .venv first).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup system-deps run test test-fast lint format bench clean

# Re-install only when pyproject.toml changes: a second `make test` starts at once.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Chromium, Fashion-MNIST and docker-compose for the suite: apt-get as root, else the command.
system-deps:
	bash scripts/system-deps.sh

run: setup
	$(VENV)/bin/matchlab up --demo

test: setup system-deps
	$(VENV)/bin/ruff check app worker ssl_core matchlab tests bench
	$(PY) -m pytest -q -ra

test-fast: setup
	$(PY) -m pytest -q -ra -m "not browser and not e2e"

lint: setup
	$(VENV)/bin/ruff check app worker ssl_core matchlab tests bench
	$(VENV)/bin/ruff format --check app worker ssl_core matchlab tests bench

format: setup
	$(VENV)/bin/ruff check --fix app worker ssl_core matchlab tests bench
	$(VENV)/bin/ruff format app worker ssl_core matchlab tests bench

bench: setup
	$(PY) bench/train_speed.py

clean:
	rm -rf $(VENV) .pytest_cache
