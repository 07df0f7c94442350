"""Which integration tests run on both Kafka clients is a choice docs/testing.md states and says
why: this keeps the table true to the `both_clients` markers, and keeps a test on both clients
in every fault, secured-Kafka, hostile-record and windowed-state module (issue 29)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.helpers import REPO

INTEGRATION = REPO / "tests" / "integration"
TABLE_ROW = re.compile(r"^\| `(test_\w+\.py)` \| ([^|]+) \|", re.M)
# The modules whose promises live (also) in the client adapter: each keeps a test on both.
MUST_RUN_ON_BOTH = {"test_faults_broker.py", "test_faults_delivery.py", "test_faults_process.py",
                    "test_faults_replicas.py", "test_faults_stall.py", "test_secure_kafka.py",
                    "test_serve_hostile.py", "test_serve_windows.py"}


def is_both_clients_mark(node: ast.expr) -> bool:
    """`pytest.mark.both_clients` (or a list holding it)."""
    if isinstance(node, ast.List | ast.Tuple):
        return any(is_both_clients_mark(e) for e in node.elts)
    return isinstance(node, ast.Attribute) and node.attr == "both_clients"


def on_both(path: Path) -> str:
    """What of a module runs on both clients, in the table's words: "every test", "none",
    "in one run" (a test that starts a process on each client itself) or the tests' names."""
    tree = ast.parse(path.read_text())
    module_marked = any(isinstance(n, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "pytestmark" for t in n.targets)
        and is_both_clients_mark(n.value) for n in tree.body)
    tests = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    marked = [t.name for t in tests if any(is_both_clients_mark(d) for d in t.decorator_list)]
    if module_marked or (tests and len(marked) == len(tests)):
        return "every test"
    if marked:
        return ", ".join(f"`{name}`" for name in marked)
    uses_both = any(isinstance(n, ast.Name) and n.id == "KAFKA_CLIENTS" for n in ast.walk(tree))
    return "in one run" if uses_both else "none"


def documented() -> dict[str, str]:
    """module → its "on both clients" cell in docs/testing.md's table."""
    text = (REPO / "docs" / "testing.md").read_text()
    return {name: cell.strip() for name, cell in TABLE_ROW.findall(text)}


def test_the_table_in_docs_testing_md_says_what_the_markers_do():
    table = documented()
    actual = {path.name: on_both(path) for path in sorted(INTEGRATION.glob("test_*.py"))}
    twice = {name for name, what in actual.items() if what != "none"}
    assert twice <= table.keys(), f"on both clients, not in docs/testing.md: {twice - set(table)}"
    assert {name: actual.get(name, "no such module") for name in table} == table


def test_every_fault_secured_hostile_and_windowed_module_keeps_a_test_on_both_clients():
    for name in sorted(MUST_RUN_ON_BOTH):
        assert on_both(INTEGRATION / name) != "none", f"{name} runs on kafka-python alone"
