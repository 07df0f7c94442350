"""Every dashboard panel as a reader meets it: a unit that says what is counted (no `reqps` for
readings), a title of its own, a row, thresholds where an alert draws a line, the panels that
need the simulator's label headers saying so, and replica and channel variables in use."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.helpers import REPO
from tests.helpers.dashboards import DASHBOARDS, all_panels, load, panels, variables

ALERTS = REPO / "deploy" / "prometheus" / "rules" / "detector-alerts.yml"
UNITS = {"short", "none", "percentunit", "s", "bytes"}
LABELLED = ("detector_precision", "detector_recall", "detector_labelled_records")
BOARDS = [pytest.param(load(path), id=path.name) for path in DASHBOARDS]


def alert_level(name: str) -> float:
    """The number an alert's expression compares with (`... > 0.10`)."""
    rules = [rule for group in yaml.safe_load(ALERTS.read_text())["groups"]
             for rule in group["rules"] if rule.get("alert") == name]
    return float(re.search(r">\s*([\d.]+)\s*$", rules[0]["expr"].strip())[1])


def exprs(panel: dict) -> str:
    """The panel's queries as one text."""
    return " ".join(t.get("expr", "") for t in panel.get("targets", []))


@pytest.mark.parametrize("board", BOARDS)
def test_every_panel_has_a_unit_that_names_what_it_counts(board):
    for panel in panels(board):
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        assert unit in UNITS or (unit or "").startswith("suffix: "), (panel["title"], unit)
        if "detector_records" in exprs(panel):
            assert unit == "suffix: readings/s", panel["title"]
        assert unit != "reqps"


@pytest.mark.parametrize("board", BOARDS)
def test_titles_are_unique_and_every_panel_sits_in_a_row(board):
    titles = [p["title"] for p in panels(board)]
    assert len(titles) == len(set(titles)), sorted(t for t in titles if titles.count(t) > 1)
    order = all_panels(board)
    assert order[0]["type"] == "row" and sum(p["type"] == "row" for p in order) >= 4
    rows = [p for p in order if p["type"] == "row"]
    assert len({r["title"] for r in rows}) == len(rows)


@pytest.mark.parametrize("board", BOARDS)
def test_flag_ratio_panels_mark_the_anomaly_rate_alert_level(board):
    level = alert_level("AnomalyRateHigh")
    ratio = [p for p in panels(board) if "detector_flag_ratio" in exprs(p)]
    assert len(ratio) >= 2
    for panel in ratio:
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert [s["value"] for s in steps if s["color"] == "red"] == [level], panel["title"]
        assert f"{100 * level:g} %" in panel["title"]
    lag = [p for p in panels(board) if "detector_consumer_lag_records" in exprs(p)]
    assert all(alert_level("ConsumerLagHigh") in [s["value"] for s in
               p["fieldConfig"]["defaults"]["thresholds"]["steps"]] for p in lag)


@pytest.mark.parametrize("board", BOARDS)
def test_panels_that_need_label_headers_say_so(board):
    labelled = [p for p in panels(board) if any(name in exprs(p) for name in LABELLED)]
    assert len(labelled) >= 4
    for panel in labelled:
        assert "labelled readings only" in panel["title"]
        assert "label` header" in panel["description"]
        assert "no data" in panel["description"]


@pytest.mark.parametrize("board", BOARDS)
def test_replica_and_channel_variables_exist_and_filter_panels(board):
    defined = variables(board)
    assert {"replica", "channel"} <= set(defined)
    for name, label in (("replica", "instance"), ("channel", "channel")):
        assert defined[name]["includeAll"] and defined[name]["allValue"] == ".*"
        assert f", {label})" in defined[name]["query"]["query"]
        assert any(f'{label}=~"${name}"' in exprs(p) for p in panels(board)), name
