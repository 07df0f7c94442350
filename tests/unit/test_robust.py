"""The outlier rule for training data with unlabelled anomalies: clean errors of any scale lose
at most a rare extreme; a few percent of large errors go, with the readings around them."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.core.robust import fence, outliers, widened


@given(st.floats(1e-9, 1e6), st.integers(0, 2**32 - 1), st.sampled_from([2, 3, 5, 8]))
@settings(max_examples=50, deadline=None)
def test_clean_errors_of_any_scale_lose_at_most_a_rare_extreme(scale, seed, dof):
    errors = scale * np.random.default_rng(seed).chisquare(dof, 20_000) / dof
    assert outliers(errors).mean() <= 0.0005  # chi-square(8) past its fence: p about 5e-7


@given(st.integers(0, 2**32 - 1), st.floats(0.005, 0.05))
@settings(max_examples=30, deadline=None)
def test_large_errors_go_with_the_readings_around_them(seed, share):
    rng = np.random.default_rng(seed)
    errors = rng.chisquare(3, 10_000) / 3
    start = 5_000
    length = int(share * len(errors))
    errors[start:start + length] *= np.linspace(1, 200, length)  # an anomaly ramping up
    dropped = outliers(errors)
    beyond = errors > fence(errors)
    assert dropped[beyond].all()
    assert dropped[start:start + length].mean() > 0.85  # most of its low start goes too
    assert dropped.mean() < 3 * share + 0.002


def test_runs_widen_by_their_length_within_each_device():
    assert widened(np.array([0, 0, 0, 1, 1, 0, 0, 0, 0], bool)).tolist() == [
        0, 1, 1, 1, 1, 1, 1, 0, 0]
    errors = 1 + np.arange(40) % 5 / 4  # 1 to 2: some spread
    errors[[20, 21]] = 1e9  # one run of two windows of device a (rows 20 and 21 of 40)
    keys = np.where(np.arange(40) < 30, "a", "b")
    dropped = outliers(errors, keys)
    assert np.flatnonzero(dropped).tolist() == [18, 19, 20, 21, 22, 23]
    keys[22:] = "b"  # the run ends device a: the widening stops at its last window
    assert np.flatnonzero(outliers(errors, keys)).tolist() == [18, 19, 20, 21]


def test_no_spread_or_no_finite_error_drops_nothing_but_not_numbers():
    assert fence(np.zeros(10)) == np.inf
    errors = np.ones(10)
    errors[3] = np.nan
    assert outliers(errors).tolist() == [i in (2, 3, 4) for i in range(10)]
