"""`detector train --residual absolute`: recorded in the bundle, used by the calibration, by
`detector score` and by the daemon alike; a bad value is refused with exit 2."""

import json

import numpy as np
import pandas as pd
import pytest

from detector.cli.offline import training_data
from detector.core.bundle import Bundle, load_bundle
from detector.core.scoring import Scorer
from detector.offline.data_checks import split_rows
from detector.stream.reloader import load_model
from tests.helpers.bundles import TINY, Bundles, assert_train_refuses, run_cli, simulated_csv


@pytest.fixture(scope="module")
def absolute(trained_bundle: Bundles):
    """A point-wise bundle whose error is the mean absolute gap."""
    return trained_bundle(*TINY, "--residual", "absolute")


def test_the_bundle_records_the_residual_and_info_shows_it(absolute):
    assert json.loads((absolute / "bundle.json").read_text())["residual"] == "absolute"
    info = run_cli("info", str(absolute))
    assert info.exit_code == 0 and "residual     absolute" in info.output


def test_the_threshold_is_calibrated_on_the_same_residual(absolute):
    bundle = load_bundle(absolute)
    values, _, _, _ = training_data(None, 3000, None, 0)  # TINY: --simulate 3000, seed 0
    held = values[split_rows(len(values), 0.3):]
    squared = Bundle(bundle.path, {**bundle.meta, "residual": "squared"}, bundle.arrays)
    top = bundle.meta["calibration"]["quantiles"]["max"]
    assert Scorer(bundle).score(held).error.max() == pytest.approx(top, rel=1e-4)
    assert Scorer(squared).score(held).error.max() != pytest.approx(top, rel=0.05)


def test_score_and_the_daemon_measure_the_mean_absolute_gap(absolute, tmp_path):
    data, out = tmp_path / "data.csv", tmp_path / "scores.csv"
    frame = simulated_csv(data, count=2000, seed=4)
    result = run_cli("score", str(absolute), str(data), "--out", str(out), "--reconstruction")
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out)
    bundle = load_bundle(absolute)
    rebuilt = scored[[f"rec_{c}" for c in bundle.channels]].to_numpy()
    gaps = np.abs(frame[bundle.channels].to_numpy() - rebuilt) / bundle.scale
    np.testing.assert_allclose(scored["error"], gaps.mean(axis=1), rtol=1e-9)
    served = load_model(absolute).scorer.score(frame[bundle.channels].to_numpy())
    np.testing.assert_allclose(served.error, scored["error"], rtol=1e-12)


def test_an_unknown_residual_is_refused_before_any_work(tmp_path):
    assert_train_refuses(tmp_path / "b", "--residual", "cubed",
                         message="'cubed' is not one of 'squared', 'absolute'")
