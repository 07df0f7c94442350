"""`detector score` and `evaluate --threshold X` on a bundle whose threshold follows the usual
error: the whole threshold moves by X / T, its following part too (real bundle files, NumPy).

The bundle: T = 6, T0 = 3, m = 1, LAG/ROWS 3/4; a reading (v, v) has error v². One device whose
usual error has drifted to 4: the bundle's threshold there is max(6, 3 · 4) = 12. With
--threshold 12 (twice T) it is 24: a spike of 15 is no longer flagged, one of 30 still is; with
--threshold 3 (half T) it is 6: a spike of 8 is flagged too. Were T0 left at 3, the threshold
after the drift would stay 12 in both cases, the spikes flagged as the bundle flags them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector.core.bundle import Bundle
from tests.helpers.bundles import run_cli
from tests.helpers.dense import dense_bundle, write_dense

ERRORS = [4.0] * 12 + [15.0] + [4.0] * 5 + [8.0] + [4.0] * 6 + [30.0] + [4.0] * 4
SPIKES = [12, 25]  # the 15 and the 30; the 8 is at 18


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    base = dense_bundle(1, threshold=6.0)
    follow = {"lag": 3, "rows": 4, "median": 1.0, "calibrated_threshold": 3.0}
    return write_dense(tmp_path / "follow", Bundle(base.path, {
        **base.meta, "threshold_follow": follow}, base.arrays))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    v = np.sqrt(ERRORS)
    labels = np.zeros(len(ERRORS), int)
    labels[25] = 1
    path = tmp_path / "drifted.csv"
    pd.DataFrame({"x": v, "y": v, "anomaly": labels}).to_csv(path, index=False)
    return path


def flagged(bundle: Path, data: Path, *options: str) -> list[int]:
    out = data.with_name("scores.csv")
    result = run_cli("score", str(bundle), str(data), "--out", str(out), *options)
    assert result.exit_code == 0, result.output
    return np.flatnonzero(pd.read_csv(out)["is_anomaly"].to_numpy()).tolist()


def test_score_with_another_threshold_moves_the_following_part_alike(bundle, data):
    assert flagged(bundle, data) == SPIKES  # the bundle's own: both spikes above 12
    assert flagged(bundle, data, "--threshold", "12") == [25]  # above 24: only the 30
    # half: 6 after the drift; 3 on the first three readings, which have no history yet
    assert flagged(bundle, data, "--threshold", "3") == [0, 1, 2, 12, 18, 25]


def test_evaluate_with_another_threshold_counts_and_says_the_moved_rule(bundle, data):
    result = run_cli("evaluate", str(bundle), str(data), "--no-plots", "--threshold", "12")
    assert result.exit_code == 0, result.output
    assert "threshold: 12 (from --threshold)" in result.output
    assert ("threshold follow: 3/4 (the threshold is at least 6 x the median of the device's "
            "errors 3 to 6 readings back, over 1) (moved with --threshold by the same factor)"
            in result.output)
    precision = next(line for line in result.output.splitlines() if line.startswith("precision"))
    assert precision.split()[1] == "1.0000"  # the 15 no longer a false alarm
