"""Static checks of the Grafana dashboards and the Prometheus rules they read: valid JSON, a data
source and a query on every panel, queries that parse, and only metrics that exist."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from detector.retrain.metrics import RetrainMetrics
from detector.stream.metrics import Metrics
from producer.cli import records_counter
from tests.helpers import REPO, unavailable
from tests.helpers.dashboards import (
    DASHBOARDS,
    dashboard_queries,
    load,
    panels,
    used_variables,
    variables,
)

DATASOURCES = REPO / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
RULES = sorted((REPO / "deploy" / "prometheus" / "rules").glob("*.yml"))

def exported_names() -> set[str]:
    """Every series name the detector, the retrainer and the producer export (read from fresh
    registries), the process metrics, and Prometheus' own `up` and `ALERTS`."""
    registries = [CollectorRegistry() for _ in range(3)]
    Metrics(registries[0])
    RetrainMetrics(registries[1])
    records_counter(registries[2])
    suffixes = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
    names = {family.name + suffix for registry in registries for family in registry.collect()
             for suffix in suffixes[family.type]}
    return names | {"process_cpu_seconds_total", "process_resident_memory_bytes", "up", "ALERTS"}


EXPORTED = exported_names()

KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "offset", "inf", "nan"}
NOT_METRICS = [
    re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\''),  # strings
    re.compile(r"\{[^}]*\}"),  # label matchers
    re.compile(r"\[[^\]]*\]"),  # ranges
    re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"),  # label lists
]
IDENTIFIER = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, keywords or labels)."""
    for pattern in NOT_METRICS:
        expr = pattern.sub(" ", expr)
    return {name for name in IDENTIFIER.findall(expr) if name.lower() not in KEYWORDS}


def recorded_names() -> set[str]:
    """Every series name the recording rules define."""
    return {
        rule["record"]
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


def rule_exprs() -> list[tuple[str, str]]:
    """(rule name, expression) of every recording and alerting rule."""
    return [
        (rule.get("record") or rule["alert"], rule["expr"])
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def test_there_is_a_dashboard() -> None:
    assert [p.name for p in DASHBOARDS] == ["detector.json"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_panel_queries_the_provisioned_prometheus(path: Path) -> None:
    uid = yaml.safe_load(DATASOURCES.read_text())["datasources"][0]["uid"]
    dashboard = load(path)
    assert dashboard["uid"] and dashboard["title"]
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(dashboard):
        where = f"panel {panel['title']!r}"
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, where
        assert panel["targets"], f"{where} has no query"
        for target in panel["targets"]:
            assert target["expr"].strip(), f"{where} has an empty query"
            assert target.get("datasource", panel["datasource"]) == panel["datasource"], where


def test_queries_use_only_the_dashboards_own_variables() -> None:
    # The e2e test runs every query, its variables set to "All", against the real Prometheus.
    for path in DASHBOARDS:
        dashboard = load(path)
        for where, expr in dashboard_queries(expand=False):
            assert used_variables(expr) <= set(variables(dashboard)), f"{where}: {expr}"


def test_queries_use_only_exported_or_recorded_metrics() -> None:
    known = EXPORTED | recorded_names()
    for where, expr in dashboard_queries() + rule_exprs():
        assert metric_names(expr), f"{where} selects no metric: {expr}"
        assert metric_names(expr) <= known, f"{where}: unknown {metric_names(expr) - known}"


def test_the_dashboard_shows_what_the_issue_asks_for() -> None:
    dashboard = load(REPO / "deploy" / "grafana" / "dashboards" / "detector.json")
    shown = set().union(*(metric_names(expr) for _, expr in dashboard_queries()))
    assert {
        "instance:detector_records:rate1m",  # throughput per replica
        "job_channel:detector_anomalies:rate1m",  # anomalies per second by channel
        "job:detector_flag_ratio:rate1m",
        "detector_reconstruction_error_bucket",  # heatmap
        "job:detector_reconstruction_error:quantile_rate5m", "detector_threshold",
        "detector_anomaly_score_bucket",
        "job:detector_event_lag_seconds:quantile_rate1m",
        "detector_consumer_lag_records", "detector_rejected_total",
        "job:detector_precision:ratio_rate15m", "job:detector_recall:ratio_rate15m",
        "detector_model_info", "detector_model_reloads_total", "ALERTS",
        "detector_retrain_total", "detector_model_age_seconds",  # the model lifecycle
    } <= shown
    heatmaps = [p for p in panels(dashboard) if p["type"] == "heatmap"]
    assert any("detector_reconstruction_error_bucket" in t["expr"] and t["format"] == "heatmap"
               for p in heatmaps for t in p["targets"])


def test_metric_names_parser() -> None:
    expr = ('sum by (job, le) (rate(detector_x_bucket{le!="+Inf", a=~"b|c"}[5m])) '
            '/ on (job) group_left clamp_min(job:y:rate1m offset 5m, 1e-9) or vector(0)')
    assert metric_names(expr) == {"detector_x_bucket", "job:y:rate1m"}


def test_every_query_parses(tmp_path: Path) -> None:
    """promtool parses each query (as a recording rule), so a typo fails here, not in Grafana."""
    promtool = shutil.which("promtool") or unavailable(
        "promtool is not installed (make system-deps installs it)")
    rules = [{"record": f"dashboard:query:{i}", "expr": expr}
             for i, (_, expr) in enumerate(dashboard_queries())]
    path = tmp_path / "dashboard_queries.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
