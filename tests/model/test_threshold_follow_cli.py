"""`detector train --threshold-follow LAG/ROWS`: the bundle records LAG/ROWS, m and T₀; `detector
score` flags a drifting plant far less than the fixed threshold does, still flags a step fault after
the drift, and counts `--history` rows as history."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from producer.simulator import Simulator
from tests.helpers.bundles import TINY, Bundles, run_cli

FOLLOW = (*TINY, "--window", "4", "--threshold-follow", "200/100")
CHANNELS = [f"col_{i}" for i in range(1, 6)]


@pytest.fixture(scope="module")
def bundle(trained_bundle: Bundles) -> Path:
    return trained_bundle(*FOLLOW)


def drifting_csv(path: Path, rows: int = 3000, fault: float = 20.0) -> Path:
    """One device drifting 1 unit per 1,000 readings, its last 60 readings a step on col_1."""
    values = Simulator(devices=1, seed=5, drift=1.0).block(rows).values.copy()
    values[-60:, 0] += fault
    pd.DataFrame(values, columns=CHANNELS).to_csv(path, index=False)
    return path


def scored(bundle: Path, data: Path, out: Path, *options: str) -> pd.DataFrame:
    result = run_cli("score", str(bundle), str(data), "--out", str(out), *options)
    assert result.exit_code == 0, result.output
    return pd.read_csv(out)


def test_the_bundle_records_lag_rows_its_held_out_median_and_threshold_before_headroom(bundle):
    meta = json.loads((bundle / "bundle.json").read_text())
    calibration = meta["calibration"]
    assert meta["threshold_follow"] == {
        "lag": 200, "rows": 100, "median": calibration["quantiles"]["0.5"],
        "calibrated_threshold": calibration["details"].get("calibrated_threshold",
                                                           calibration["threshold"])}
    assert meta["training_settings"]["threshold_follow"] == {"lag": 200, "rows": 100}
    assert "follow       200/100 (the threshold is at least" in run_cli("info", str(bundle)).output


def test_a_drift_flags_far_fewer_readings_and_the_step_fault_after_it_is_still_flagged(
        bundle, tmp_path):
    rows = scored(bundle, drifting_csv(tmp_path / "d.csv"), tmp_path / "s.csv")
    following = rows["is_anomaly"].to_numpy() == 1
    fixed = rows["score"].to_numpy() > 1  # the same bundle's fixed threshold (persistence 1/1)
    assert not (following & ~fixed).any()  # never a lower threshold
    assert fixed[:-60].sum() > 1000 and following[:-60].sum() < fixed[:-60].sum() / 5
    assert following[-60:].all()


def test_evaluate_says_the_threshold_follows_and_counts_its_flags(bundle, tmp_path):
    data = drifting_csv(tmp_path / "d.csv")
    frame = pd.read_csv(data)
    frame["anomaly"] = (np.arange(len(frame)) >= len(frame) - 60).astype(int)
    frame.to_csv(data, index=False)
    result = run_cli("evaluate", str(bundle), str(data), "--no-plots")
    assert result.exit_code == 0, result.output
    assert "threshold follow: 200/100 (the threshold is at least" in result.output
    flagged = scored(bundle, data, tmp_path / "s.csv")["is_anomaly"].to_numpy() == 1
    truth = frame["anomaly"].to_numpy() == 1
    for name, count in (("tp", flagged & truth), ("fp", flagged & ~truth)):
        assert re.search(rf"^{name}\s+{int(count.sum())}\s", result.output, re.MULTILINE), name


def test_history_rows_count_as_the_follow_rule_s_history(bundle, tmp_path):
    whole = scored(bundle, drifting_csv(tmp_path / "d.csv"), tmp_path / "whole.csv")
    frame = pd.read_csv(tmp_path / "d.csv")
    frame.iloc[:2000].to_csv(tmp_path / "before.csv", index=False)
    frame.iloc[2000:].to_csv(tmp_path / "after.csv", index=False)
    tail = scored(bundle, tmp_path / "after.csv", tmp_path / "tail.csv", "--history",
                  str(tmp_path / "before.csv"))
    assert np.array_equal(tail["is_anomaly"], whole["is_anomaly"].iloc[2000:])
    alone = scored(bundle, tmp_path / "after.csv", tmp_path / "alone.csv")
    assert alone["is_anomaly"].sum() > tail["is_anomaly"].sum()  # no history: T until it builds
