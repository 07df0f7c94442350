"""The house's rules, read from the code's own imports: arrows one way, modules short."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

MAX_LINES = 300


def modules(package: str) -> list[Path]:
    """Every Python file of a package (its folder under the repository)."""
    return sorted((REPO / package).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """The dotted names a module imports, at any depth of its code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


CLIENTS = ("kafka", "confluent_kafka")  # the Kafka client libraries
FORBIDDEN = {  # package: what it must never import
    "detector/core": ("detector.stream", "detector.brokers", "detector.offline", "detector.cli",
                      *CLIENTS, "prometheus_client", "click"),
    "detector/stream": ("detector.brokers", "detector.offline", "detector.retrain", "detector.cli",
                        *CLIENTS),
    "detector/brokers": ("detector.offline", "detector.retrain", "detector.lifecycle",
                         "detector.cli"),
    "detector/retrain": ("detector.brokers", "detector.cli", *CLIENTS),
    "detector/lifecycle": ("detector.stream", "detector.brokers", "detector.offline",
                           "detector.cli", *CLIENTS, "prometheus_client", "click", "tensorflow",
                           "keras"),
    "detector/offline": ("detector.stream", "detector.brokers", "detector.cli", *CLIENTS),
    "producer": ("detector", "tensorflow", "keras"),
    "shared": ("detector", "producer", "tensorflow", "keras"),
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_arrows_run_one_way(package):
    bad = {
        f"{path.relative_to(REPO)} imports {name}"
        for path in modules(package)
        for name in imported(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package])
    }
    assert not bad, sorted(bad)


def test_no_module_is_over_300_lines():
    long = {str(p.relative_to(REPO)): n for pkg in ("detector", "producer", "shared", "bench")
            for p in modules(pkg) if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_tests_and_benchmarks_share_helper_modules_not_test_modules():
    """Shared test code lives in helper modules (tests/helpers/): neither a test nor a benchmark
    imports a test module (test_*.py) or a conftest.py."""
    bad = {
        f"{path.relative_to(REPO)} imports {name}"
        for pkg in ("tests", "bench")
        for path in modules(pkg)
        for name in imported(path)
        if name.startswith("tests.")
        and any(part.startswith("test_") or part == "conftest" for part in name.split("."))
    }
    assert not bad, sorted(bad)


def test_detector_uses_the_producer_only_for_its_simulator():
    """What both command lines share lives in `shared/`; the detector needs the producer only to
    simulate training data (`detector train --simulate`)."""
    bad = {
        f"{path.relative_to(REPO)} imports {name}"
        for path in modules("detector")
        for name in imported(path)
        if name.startswith("producer") and not name.startswith("producer.simulator")
    }
    assert not bad, sorted(bad)


def test_the_serve_loop_loads_no_kafka_client():
    """Importing every module of detector/stream, however indirectly, loads neither kafka-python
    nor confluent-kafka: the loop speaks only the seam's types (detector/stream/ports.py)."""
    probe = ("import importlib, pkgutil, sys, detector.stream as s\n"
             "for m in pkgutil.iter_modules(s.__path__):\n"
             "    importlib.import_module('detector.stream.' + m.name)\n"
             "print(sorted({n.split('.')[0] for n in sys.modules} & {'kafka', 'confluent_kafka'}))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def kafka_adapter(path: Path) -> bool:
    """The modules that may talk kafka-python: the brokers named kafka* in detector/brokers, and
    the connection code both CLIs share (shared/kafka_*)."""
    name, folder = path.name, path.parent.relative_to(REPO).as_posix()
    return (folder in ("detector/brokers", "shared")
            and (name == "kafka.py" or name.startswith("kafka_")))


def test_only_the_kafka_adapters_import_kafka_python():
    """kafka-python's values and errors are translated in detector/brokers/kafka*.py alone."""
    bad = {
        f"{path.relative_to(REPO)} imports {name}"
        for pkg in ("detector", "shared")
        for path in modules(pkg) if not kafka_adapter(path)
        for name in imported(path)
        if name == "kafka" or name.startswith("kafka.")
    }
    assert not bad, sorted(bad)


def confluent_adapter(path: Path) -> bool:
    """The modules that may talk confluent-kafka: the brokers named confluent* in
    detector/brokers, the producer's command line and sink, and shared/kafka_confluent.py."""
    name, folder = path.name, path.parent.relative_to(REPO).as_posix()
    return ((folder == "detector/brokers" and name.startswith("confluent"))
            or path.relative_to(REPO).as_posix() in ("shared/kafka_confluent.py",
                                                     "producer/cli.py", "producer/sinks.py"))


def test_only_the_confluent_adapters_import_confluent_kafka():
    """librdkafka's values and errors are translated in detector/brokers/confluent*.py alone (and
    the producer's sink and the shared connection code)."""
    bad = {
        f"{path.relative_to(REPO)} imports {name}"
        for pkg in ("detector", "shared", "producer")
        for path in modules(pkg) if not confluent_adapter(path)
        for name in imported(path)
        if name == "confluent_kafka" or name.startswith("confluent_kafka.")
    }
    assert not bad, sorted(bad)


def test_the_seam_has_no_any():
    """Every value that crosses the seam has a type of its own: no `Any` in ports.py."""
    tree = ast.parse((REPO / "detector/stream/ports.py").read_text())
    anys = [node.lineno for node in ast.walk(tree)
            if (isinstance(node, ast.Name) and node.id == "Any")
            or (isinstance(node, ast.Attribute) and node.attr == "Any")
            or (isinstance(node, ast.alias) and node.name == "Any")]
    assert not anys, f"Any at lines {anys}"


MAX_FUNCTION_LINES, MAX_PARAMETERS = 60, 12


def functions(path: Path) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Every function and method of a module, nested ones included."""
    return [node for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]


def parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """How many parameters a function takes (self, *args and **kwargs each count as one)."""
    args = node.args
    return (len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs)
            + (args.vararg is not None) + (args.kwarg is not None))


def test_no_function_is_over_60_lines_or_12_parameters():
    """A function's lines run from its `def` to its last line (docstring and comments in)."""
    bad = {}
    for path in (p for pkg in ("detector", "producer", "shared") for p in modules(pkg)):
        for node in functions(path):
            lines, width = node.end_lineno - node.lineno + 1, parameters(node)
            if lines > MAX_FUNCTION_LINES or width > MAX_PARAMETERS:
                bad[f"{path.relative_to(REPO)}:{node.lineno} {node.name}"] = (lines, width)
    assert not bad, f"(lines, parameters): {bad}"
