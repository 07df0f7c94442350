"""Windowed models through the CLI: a dense and a Conv1D autoencoder on windows, scored per device.

With a window of W, each reading is scored together with the W − 1 readings before it from the
same device. The first W − 1 readings of each device have no full window: `detector score` leaves
their error and score empty and does not flag them (unless `--history` gives the readings before).
"""

import json

import numpy as np
import pandas as pd
import pytest

from tests.helpers.bundles import TINY, Bundles, confusion_counts, run_cli, simulated_csv

WINDOW = 6


@pytest.fixture(scope="module")
def windowed(trained_bundle: Bundles, tmp_path_factory) -> dict:
    """A dense and a conv bundle with windows of 6, trained briefly on simulated normal data."""
    made = {kind: trained_bundle(*TINY, "--architecture", kind, "--window", str(WINDOW),
                                 "--persistence", "2/3") for kind in ("dense", "conv")}
    made["data"] = tmp_path_factory.mktemp("windowed") / "data.csv"
    made["frame"] = simulated_csv(made["data"], count=4000, seed=5)
    return made


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_bundle_records_the_window_the_architecture_and_the_rule(windowed, kind):
    meta = json.loads((windowed[kind] / "bundle.json").read_text())
    assert meta["window"] == WINDOW and meta["architecture"]["kind"] == kind
    assert meta["persistence"] == {"k": 2, "n": 3}
    assert meta["calibration"]["details"]["independent_windows"] < meta["calibration"][
        "holdout_size"
    ]
    info = run_cli("info", str(windowed[kind]))
    assert f"window       {WINDOW}" in info.output and "persistence  2/3" in info.output


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_every_row_but_each_devices_first_window_minus_one_is_scored(windowed, kind, tmp_path):
    out = tmp_path / "scores.csv"
    result = run_cli("score", str(windowed[kind]), str(windowed["data"]), "--out", str(out))
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out)
    assert len(scored) == len(windowed["frame"])
    position = scored.groupby("device").cumcount()
    unscored = position < WINDOW - 1
    assert unscored.sum() == 4 * (WINDOW - 1)
    assert scored.loc[unscored, "error"].isna().all()
    assert (scored.loc[unscored, "is_anomaly"] == 0).all()
    assert np.isfinite(scored.loc[~unscored, "error"]).all()
    breaks = (scored["label"] == "correlation_break") & ~unscored
    normal = (scored["label"] == "normal") & ~unscored
    assert breaks.sum() >= 20
    assert scored.loc[breaks, "error"].median() > 10 * scored.loc[normal, "error"].median()


def test_history_gives_the_first_rows_their_windows_and_persistence(windowed, tmp_path):
    frame = windowed["frame"]
    head, tail = tmp_path / "head.csv", tmp_path / "tail.csv"
    frame.iloc[:2000].to_csv(head, index=False)
    frame.iloc[2000:].to_csv(tail, index=False)
    whole, part = tmp_path / "whole.csv", tmp_path / "part.csv"
    bundle = str(windowed["dense"])
    assert run_cli("score", bundle, str(windowed["data"]), "--out", str(whole)).exit_code == 0
    result = run_cli("score", bundle, str(tail), "--history", str(head), "--out", str(part))
    assert result.exit_code == 0, result.output
    expected = pd.read_csv(whole).iloc[2000:].reset_index(drop=True)
    got = pd.read_csv(part)
    assert got["error"].notna().all()
    assert np.allclose(got["error"], expected["error"])
    assert got["is_anomaly"].tolist() == expected["is_anomaly"].tolist()


def counts(*args: str) -> dict[str, int]:
    """The confusion counts `detector evaluate ARGS --no-plots` prints."""
    result = run_cli("evaluate", *args, "--no-plots")
    assert result.exit_code == 0, result.output
    return confusion_counts(result.stdout)


def test_persistence_and_threshold_can_be_overridden_when_evaluating(windowed):
    data, bundle = str(windowed["data"]), str(windowed["dense"])
    loose, strict = (counts(bundle, data, "--persistence", rule) for rule in ("1/1", "3/3"))
    assert strict["fp"] <= loose["fp"] and strict["tp"] < loose["tp"]
    assert counts(bundle, data, "--threshold", "1e9")["tp"] == 0
    bad = run_cli("evaluate", bundle, data, "--persistence", "4/3", "--no-plots")
    assert bad.exit_code == 2 and "k <= n" in bad.output
