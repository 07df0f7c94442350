"""Slow channels and how channel errors combine: which channels are slow, what centring does to a
window, and what a bundle with `centred` channels or `combine` "max" scores."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from detector.core.bundle import Bundle
from detector.core.levels import centred, combined, slow_channels, slow_share
from detector.core.schema import parse_meta
from detector.core.scoring import Scorer
from detector.core.windows import windows_by_device
from detector.errors import BundleError
from tests.helpers.dense import random_dense

WINDOW = 20


def readings(n: int = 2000, seed: int = 0) -> np.ndarray:
    """Three channels: white noise, a slow random walk, a fast sine (period 6 readings)."""
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.normal(size=n), np.cumsum(rng.normal(size=n)),
                            np.sin(np.arange(n) * 2 * np.pi / 6) + 0.1 * rng.normal(size=n)])


def test_white_noise_keeps_one_window_th_of_its_variance_in_its_levels_and_a_walk_most():
    share = slow_share(windows_by_device(readings(), WINDOW)[0])
    assert share[0] == pytest.approx(1 / WINDOW, abs=0.02)
    assert share[1] > 0.9 and share[2] < 0.1
    assert slow_channels(windows_by_device(readings(), WINDOW)[0]).tolist() == [False, True, False]


def test_a_constant_channel_is_not_slow_and_divides_by_nothing():
    values = readings()
    values[:, 0] = 7.0
    assert slow_share(windows_by_device(values, WINDOW)[0])[0] == 0.0


def test_centring_takes_each_window_s_own_mean_off_the_masked_channels_only():
    windows = windows_by_device(readings(), WINDOW)[0]
    before = windows.copy()
    mask = np.array([False, True, False])
    moved, levels = centred(windows, mask)

    np.testing.assert_array_equal(windows, before)  # a copy: the caller's windows stay
    np.testing.assert_allclose(moved[:, :, 1].mean(axis=1), 0.0, atol=1e-9)
    np.testing.assert_array_equal(moved[:, :, [0, 2]], windows[:, :, [0, 2]])
    np.testing.assert_allclose(levels[:, 1], windows[:, :, 1].mean(axis=1))
    assert not levels[:, [0, 2]].any()
    np.testing.assert_allclose(moved + levels[:, None, :], windows)


def test_max_combines_to_the_worst_channel_and_mean_to_the_average():
    errors = np.array([[1.0, 4.0, 1.0], [0.0, 0.0, 3.0]])
    assert combined(errors, "max").tolist() == [4.0, 3.0]
    assert combined(errors, "mean").tolist() == [2.0, 1.0]


def with_fields(bundle: Bundle, **fields) -> Bundle:
    """The same model with more bundle.json fields."""
    return Bundle(bundle.path, {**bundle.meta, **fields}, bundle.arrays)


def test_a_centred_channel_s_level_moves_neither_score_nor_gap_but_a_kept_one_s_does():
    plain = random_dense(WINDOW, 3, seed=3)
    scorer = Scorer(with_fields(plain, centred=["c1"]))
    windows = windows_by_device(readings() * plain.arrays["std"], WINDOW)[0][:300]
    lifted = windows.copy()
    lifted[:, :, 1] += 40 * plain.arrays["std"][1]  # far past any level seen

    base, moved = scorer.score(windows), scorer.score(lifted)
    np.testing.assert_allclose(moved.error, base.error, rtol=1e-6)
    np.testing.assert_allclose(moved.reconstruction[:, 1] - base.reconstruction[:, 1],
                               40 * plain.arrays["std"][1], rtol=1e-6)  # raw units, level back
    kept = Scorer(plain)  # the same model, the level kept: the lift shows
    assert (kept.score(lifted).error > 2 * kept.score(windows).error).all()


def test_a_centred_bundle_scores_as_its_model_on_centred_windows():
    plain = random_dense(WINDOW, 3, seed=5)
    mask = np.array([False, True, True])
    windows = windows_by_device(readings(seed=2) * 3.0, WINDOW)[0][:200]
    inside, levels = centred(windows, mask)

    got = Scorer(with_fields(plain, centred=["c1", "c2"])).score(windows)
    expected = Scorer(plain).score(inside)
    np.testing.assert_allclose(got.channel_errors, expected.channel_errors, rtol=1e-12)
    np.testing.assert_allclose(got.reconstruction, expected.reconstruction + levels[:, :],
                               rtol=1e-12)


def test_a_max_bundle_scores_its_worst_channel_and_an_older_bundle_the_mean_bit_for_bit():
    plain = random_dense(WINDOW, 3, seed=7)
    windows = windows_by_device(readings(seed=4) * 2.0, WINDOW)[0][:200]
    old, worst = Scorer(plain).score(windows), Scorer(with_fields(plain, combine="max"))
    scores = worst.score(windows)

    np.testing.assert_array_equal(scores.error, scores.channel_errors.max(axis=1))
    np.testing.assert_array_equal(scores.score, scores.error / worst.threshold)
    np.testing.assert_array_equal(old.error, old.channel_errors.mean(axis=1))
    np.testing.assert_array_equal(Scorer(with_fields(plain, combine="mean")).score(windows).error,
                                  old.error)


META = {"format": 1, "version": "0123456789ab", "channels": ["a", "b"], "window": 3,
        "architecture": {"kind": "dense", "hidden": [1], "activation": "linear", "window": 3},
        "scale": {"mean": [0.0, 0.0], "std": [1.0, 1.0]}, "calibration": {"threshold": 1.0}}


def test_the_schema_reads_older_bundles_as_nothing_centred_and_the_mean():
    meta = parse_meta(META, "bundle.json")
    assert meta.centred == [] and meta.combine == "mean"
    bundle = Bundle(Path("x"), META, {})
    assert not bundle.centred.any() and bundle.combine == "mean"
    assert parse_meta({**META, "centred": ["b"], "combine": "max"}, "x").centred == ["b"]


@pytest.mark.parametrize(("fields", "message"), [
    ({"centred": ["c"]}, "'centred' names a channel"),
    ({"centred": "a"}, "centred"),
    ({"combine": "sum"}, "combine"),
    ({"centred": ["a"], "window": 1, "architecture": {**META["architecture"], "window": 1}},
     "window of at least 2"),
])
def test_the_schema_refuses_a_centred_channel_it_does_not_have_or_an_unknown_combine(
        fields, message):
    with pytest.raises(BundleError, match=message):
        parse_meta(copy.deepcopy(META) | fields, "bundle.json")
