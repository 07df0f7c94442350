# The two commands a newcomer needs: `make up` runs the stack, `make test` runs every test.
PYTHON ?= python3
SECURE ?= 0
VENV   := .venv
PY     := $(VENV)/bin/python
STACK  := deploy/local/stack

.PHONY: help install lock system-deps lint check-config test test-unit mutation up down status bench \
	clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

# Every Python package, transitive ones included, comes from the locks (hashes checked); the
# project itself is installed on top without resolving anything.
$(VENV)/.installed: pyproject.toml requirements-dev.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check
	touch $@

install: $(VENV)/.installed  ## create .venv and install the locked Python packages

# One resolution for every platform (markers say which lines apply where); the pins already in
# the locks are kept unless pyproject.toml changes them, or UPGRADE=1 asks for the newest.
LOCK_FLAGS = --universal --python-version 3.11 --generate-hashes --quiet \
	--custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)

lock:  ## re-resolve requirements.lock (image) and requirements-dev.lock (.venv, CI) from pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	test -x $(VENV)/bin/uv || $(PY) -m pip install --quiet "$$(grep -o 'uv==[0-9.]*' pyproject.toml)"
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) -o requirements-dev.lock
	$(VENV)/bin/uv pip compile pyproject.toml -c requirements-dev.lock $(LOCK_FLAGS) -o requirements.lock

system-deps:  ## Java, Maven, Kafka's jars, Prometheus and Alertmanager (apt / Maven)
	deploy/local/install-deps

lint: install  ## ruff, then mypy (strict on detector/core, stream and brokers; pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

check-config: system-deps  ## promtool and amtool on the deployment files
	promtool check rules deploy/prometheus/rules/*.yml
	promtool test rules deploy/prometheus/tests/*.yml
	amtool check-config deploy/alertmanager/alertmanager.yml

# Two pytest runs at once (CI has two cores): the model and unit tests, which keep the CPU busy
# and need no shared service, and the broker outage (its own broker, mostly waiting), beside the
# rest, which mostly waits on Kafka, processes and the clock. The first run's output follows; the
# target fails if either run fails.
OFFLINE_TESTS := tests/model tests/unit tests/integration/test_faults_broker.py

test: install system-deps lint check-config  ## everything: lint, config checks, unit, model, integration and e2e tests
	@log=$$(mktemp); \
	$(PY) -m pytest -q -p no:cacheprovider $(OFFLINE_TESTS) >$$log 2>&1 & offline=$$!; \
	trap 'kill $$offline 2>/dev/null; rm -f $$log; exit 130' INT TERM; \
	echo "$(PY) -m pytest -q tests $(OFFLINE_TESTS:%=--ignore=%) (and $(OFFLINE_TESTS) beside it)"; \
	$(PY) -m pytest -q tests $(OFFLINE_TESTS:%=--ignore=%); services=$$?; \
	wait $$offline; status=$$?; echo "--- $(PY) -m pytest -q $(OFFLINE_TESTS)"; cat $$log; \
	rm -f $$log; test $$services -eq 0 && test $$status -eq 0

test-unit: install  ## unit tests only (no services)
	$(PY) -m pytest -q tests/unit

# mutmut over the modules that carry the service's promises, one module at a time, against the unit
# tests ([tool.mutmut] in pyproject.toml); slow and CPU-heavy, so not part of `make test`.
MUTATED := detector.core.alarm detector.core.calibration detector.stream.decode \
	detector.stream.record_checks detector.stream.offsets detector.stream.outbox detector.stream.warmup

mutation: install  ## mutation testing of the modules in docs/testing.md (about an hour on two busy cores; not in `make test`)
	rm -rf mutants
	for m in $(MUTATED); do nice -n 19 $(VENV)/bin/mutmut run --max-children 2 "$$m.*" >/dev/null \
		|| exit 1; done
	$(VENV)/bin/mutmut results --all true | sed -E 's/^ *(([a-z_]+\.){2}[a-z_]+)\..*: /\1 /' \
		| sort | uniq -c
	$(VENV)/bin/mutmut results

up: install system-deps  ## run the whole stack (Compose if a Docker engine answers, else local processes); SECURE=1: on a TLS+SCRAM+ACL Kafka
	SECURE=$(SECURE) deploy/local/up

down:  ## stop whatever `make up` started
	deploy/local/up --down

status:  ## what runs
	-$(STACK) status

bench: install system-deps  ## run the benchmarks in bench/ and print their figures
	$(PY) bench/run_all.py

clean:  ## remove the virtualenv, stack state and models
	rm -rf $(VENV) .stack models out
