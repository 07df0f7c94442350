"""The bundle's `residual`: a window's error is the mean squared or the mean absolute gap, in
standard units, the same through the NumPy fast path, the plain path and for old bundles."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from detector.core.bundle import Bundle
from detector.core.inference import NumpyDense
from detector.core.schema import parse_meta
from detector.core.scoring import Scorer
from detector.errors import BundleError
from tests.helpers.dense import random_dense


def windows_for(scorer: Scorer, n: int, seed: int) -> np.ndarray:
    """Raw windows a few training deviations around the training mean."""
    engine = scorer.engine
    rng = np.random.default_rng(seed)
    return engine.mean + engine.std * rng.normal(0, 3, (n, scorer.window, len(scorer.channels)))


@pytest.mark.parametrize("residual", ["squared", "absolute"])
@pytest.mark.parametrize(("window", "activation"), [(1, "linear"), (20, "linear"), (5, "tanh")])
def test_the_fast_path_gives_the_plain_path_s_errors_for_either_residual(
        residual, window, activation):
    scorer = Scorer(random_dense(window, 5, activation, window, residual))
    assert isinstance(scorer.engine, NumpyDense) and scorer.residual == residual
    windows = windows_for(scorer, 700, window)

    fast = scorer.score(windows)
    errors, reconstruction = scorer.errors(windows)  # reconstruct, subtract, square or abs, mean

    np.testing.assert_array_equal(fast.reconstruction, reconstruction)
    np.testing.assert_allclose(fast.channel_errors, errors, rtol=1e-12)
    np.testing.assert_allclose(fast.error, errors.mean(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(fast.error, fast.channel_errors.mean(axis=1))
    np.testing.assert_array_equal(fast.score, fast.error / scorer.threshold)
    assert np.array_equal(fast.top_channel, errors.argmax(axis=1))
    assert np.array_equal(fast.top_channel, fast.channel_errors.argmax(axis=1))


@pytest.mark.parametrize("residual", ["squared", "absolute"])
def test_each_residual_is_the_mean_of_its_gaps_in_training_deviations(residual):
    scorer = Scorer(random_dense(4, 3, "linear", 2, residual))
    windows = windows_for(scorer, 50, 3)
    gaps = (windows - scorer.engine.reconstruct(windows)) / scorer.bundle.scale
    expected = np.abs(gaps) if residual == "absolute" else gaps**2

    for errors in (scorer.score(windows).channel_errors, scorer.errors(windows)[0]):
        np.testing.assert_allclose(errors, expected.mean(axis=1), rtol=1e-10)


def test_a_bundle_without_a_residual_scores_as_squared_bit_for_bit():
    old, squared, absolute = (Scorer(random_dense(20, 5, "linear", 7, residual))
                              for residual in (None, "squared", "absolute"))
    windows = windows_for(old, 300, 1)

    assert old.residual == "squared"
    np.testing.assert_array_equal(old.score(windows).error, squared.score(windows).error)
    np.testing.assert_array_equal(old.errors(windows)[0], squared.errors(windows)[0])
    assert not np.allclose(old.score(windows).error, absolute.score(windows).error)


def test_a_non_finite_gap_stays_in_its_channel_with_the_absolute_residual():
    scorer = Scorer(random_dense(5, 5, "linear", 5, "absolute"))
    windows = windows_for(scorer, 10, 5)
    windows[0, 2, 3] = np.inf
    with np.errstate(invalid="ignore"):
        scores = scorer.score(windows)
    assert not np.isfinite(scores.error[0])
    assert np.isfinite(scores.channel_errors[1:]).all() and np.isfinite(scores.error[1:]).all()


META = {"format": 1, "version": "0123456789ab", "channels": ["a", "b"], "window": 1,
        "architecture": {"kind": "dense", "hidden": [1], "activation": "linear", "window": 1},
        "scale": {"mean": [0.0, 0.0], "std": [1.0, 1.0]}, "calibration": {"threshold": 1.0}}


def test_the_schema_reads_a_missing_residual_as_squared_and_refuses_an_unknown_one():
    assert parse_meta(META, "bundle.json").residual == "squared"
    assert parse_meta({**META, "residual": "absolute"}, "bundle.json").residual == "absolute"
    bad = copy.deepcopy(META) | {"residual": "cubed"}
    with pytest.raises(BundleError, match="residual"):
        parse_meta(bad, "bundle.json")
    assert Bundle(Path("x"), META, {}).residual == "squared"
