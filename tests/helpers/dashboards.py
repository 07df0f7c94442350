"""The Grafana dashboards as the tests read them: panels (rows' included), variables, and every
query with its variables expanded to their "All" value, so Prometheus can run it as written."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.helpers import REPO

DASHBOARDS = sorted((REPO / "deploy" / "grafana" / "dashboards").glob("*.json"))
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def load(path: Path) -> dict[str, Any]:
    """A dashboard's JSON."""
    return json.loads(path.read_text())


def all_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel in order, rows and the panels inside collapsed rows included."""
    found = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """The panels that show data (rows left out)."""
    return [p for p in all_panels(dashboard) if p.get("type") != "row"]


def variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """name → the dashboard's template variable."""
    return {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}


def used_variables(expr: str) -> set[str]:
    """The names of the variables a query uses ($name or ${name})."""
    return {a or b for a, b in VARIABLE.findall(expr)}


def expanded(expr: str, dashboard: dict[str, Any]) -> str:
    """The query with each variable replaced by its "All" value (a regex matching every value);
    a variable the dashboard does not define is left as it is (and fails to parse)."""
    known = variables(dashboard)

    def value(match: re.Match) -> str:
        name = match[1] or match[2]
        return known[name].get("allValue", ".*") if name in known else match[0]

    return VARIABLE.sub(value, expr)


def dashboard_queries(expand: bool = True) -> list[tuple[str, str]]:
    """(dashboard file / panel title, expr) of every panel target and annotation query."""
    queries = []
    for path in DASHBOARDS:
        dashboard = load(path)
        for panel in panels(dashboard):
            queries += [(f"{path.name} / {panel['title']}", t["expr"])
                        for t in panel.get("targets", []) if t.get("expr")]
        for note in dashboard["annotations"]["list"]:
            if note.get("expr"):
                queries.append((f"{path.name} / annotation {note['name']}", note["expr"]))
        if expand:
            queries = [(where, expanded(expr, dashboard)) for where, expr in queries]
    return queries
