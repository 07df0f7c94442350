"""Helpers shared by the tests and the benchmarks in bench/, one home each.

- processes: the project's commands as processes (`detector serve` as DetectorProcess, the
  producer's command line, the serve topics), free ports, a process's CPU time and memory;
- broker: a real Kafka broker for a session (an address, Docker, the local stack), fresh
  names, reading a topic, committed and end offsets;
- bundles: training a model bundle through the CLI (once per session per options), the CLI
  in-process, simulated CSV data;
- faults: the end check of every case of the fault suite;
- secure: the local stack's secured Kafka (addresses, users, an admin granting ACLs);
- k8s: deploy/k8s rendered by `kubectl kustomize`, a container's command line and environment;
- crd: custom resources checked against their CRD's structural schema (no pruned field).

`unavailable` is the one rule for what a test needs and does not find: a skip, a failure under
CI=true. Fixtures live in the conftest.py files; these modules hold plain code that fixtures,
tests and benchmarks import. A test module never imports from another test module.
"""

import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> NoReturn:
    """Something a test needs is missing (a tool, a service, ../shared/data): fail under CI=true,
    where no test may skip, else skip with the reason."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: no test may skip)", pytrace=False)
    pytest.skip(reason)


def load_script(path: Path) -> ModuleType:
    """A script outside the packages (deploy/...), imported as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
