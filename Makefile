# The two commands a newcomer needs: `make up` runs the stack, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STACK  := deploy/local/stack

.PHONY: help install system-deps lint check-config test test-unit up down status bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed  ## create .venv and install the pinned Python packages

system-deps:  ## Java, Maven, Kafka's jars, Prometheus and Alertmanager (apt / Maven)
	deploy/local/install-deps

lint: install  ## ruff
	$(VENV)/bin/ruff check .

check-config: system-deps  ## promtool and amtool on the deployment files
	promtool check rules deploy/prometheus/rules/*.yml
	promtool test rules deploy/prometheus/tests/*.yml
	amtool check-config deploy/alertmanager/alertmanager.yml

test: install system-deps lint check-config  ## everything: lint, config checks, unit, integration and e2e tests
	$(PY) -m pytest -q tests

test-unit: install  ## unit tests only (no services)
	$(PY) -m pytest -q tests/unit

up: install system-deps  ## run the whole stack (Compose if a Docker engine answers, else local processes)
	deploy/local/up

down:  ## stop whatever `make up` started
	deploy/local/up --down

status:  ## what runs
	-$(STACK) status

bench: install system-deps  ## run the benchmarks in bench/ and print their figures
	$(PY) bench/run_all.py

clean:  ## remove the virtualenv, stack state and models
	rm -rf $(VENV) .stack models out
