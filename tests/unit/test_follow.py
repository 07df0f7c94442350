"""The threshold that follows the usual error (detector.core.follow): its LAG/ROWS, the same
medians offline and streamed in any batches, a threshold never below the bundle's, and what a
bundle records."""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.core.alarm import AlarmRule, Persistence
from detector.core.follow import (
    MAX_SPAN,
    FollowRule,
    FollowState,
    ThresholdFollow,
    follow_of,
    lagged_medians,
    lagged_medians_by_device,
    parse_follow,
    rule_for,
)
from detector.core.training_settings import TrainingSettings
from detector.errors import DataError

FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def by_definition(values: np.ndarray, lag: int, rows: int) -> np.ndarray:
    """The rule as the docs say it, one reading at a time."""
    out = np.full(len(values), np.nan)
    for t in range(len(values)):
        span = values[max(0, t - lag - rows + 1): max(0, t - lag + 1)]
        span = span[~np.isnan(span)]
        if len(span):
            out[t] = np.median(span)
    return out


def test_off_and_lag_rows_parse_and_anything_else_says_what_to_write():
    assert parse_follow("off") == ThresholdFollow() and not ThresholdFollow().active
    assert parse_follow("300/200") == ThresholdFollow(300, 200)
    assert str(ThresholdFollow(300, 200)) == "300/200" and str(ThresholdFollow()) == "off"
    assert parse_follow(f"0/{MAX_SPAN}").kept == MAX_SPAN - 1
    for bad, said in [("x", "must be off or LAG/ROWS"), ("3/0", "ROWS >= 1"),
                      ("-1/3", "must be off or LAG/ROWS"), (f"1/{MAX_SPAN}", "LAG \\+ ROWS <="),
                      ("1/" + "9" * 5000, "LAG \\+ ROWS <=")]:
        with pytest.raises(DataError, match=said) as caught:
            parse_follow(bad)
        assert "\n" not in str(caught.value)


values_with_gaps = st.lists(st.one_of(st.floats(0, 50), st.just(float("nan"))), max_size=60)


@FEW
@given(values=values_with_gaps, lag=st.integers(0, 8), rows=st.integers(1, 8))
def test_the_offline_medians_are_the_rule_as_written(values, lag, rows):
    values = np.array(values, dtype=float)
    got, want = lagged_medians(values, lag, rows), by_definition(values, lag, rows)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.allclose(got[~np.isnan(got)], want[~np.isnan(want)])


@FEW
@given(values=values_with_gaps, devices=st.lists(st.sampled_from("abc"), min_size=60,
                                                  max_size=60),
       cuts=st.lists(st.integers(0, 60), max_size=6), lag=st.integers(0, 6),
       rows=st.integers(1, 6), wanted=st.lists(st.booleans(), min_size=60, max_size=60))
def test_streamed_in_any_batches_the_medians_are_the_offline_ones(values, devices, cuts, lag,
                                                                   rows, wanted):
    follow = ThresholdFollow(lag, rows)
    values, devices = np.array(values, dtype=float), np.array(devices[: len(values)])
    needed = np.array(wanted[: len(values)], dtype=bool)
    offline = lagged_medians_by_device(values, follow, devices, needed)
    state, online = FollowState(follow), []
    edges = [0, *sorted(cuts), len(values)]
    for start, end in itertools.pairwise(edges):
        if end > start:
            online.extend(state.update_batch(devices[start:end].tolist(), values[start:end],
                                             needed[start:end]))
    assert np.array_equal(np.array(online, dtype=float), offline, equal_nan=True)
    every = lagged_medians_by_device(values, follow, devices)  # the same where computed
    assert np.array_equal(offline[needed], every[needed], equal_nan=True)
    assert np.isnan(offline[~needed]).all() and len(state) <= 3


def test_a_device_keeps_lag_plus_rows_minus_one_ratios_and_the_least_recent_is_forgotten():
    state = FollowState(ThresholdFollow(3, 2), max_devices=2)
    state.update_batch(["a"] * 100, np.arange(100.0))
    assert len(state._recent["a"]) == 4
    state.update_batch(["b", "c"], [1.0, 2.0])
    assert set(state._recent) == {"b", "c"}  # a forgotten: it starts again with no history
    assert np.isnan(state.update_batch(["a"], [5.0])[0])
    state.forget(["b", "c", "a"])
    assert len(state) == 0


RULE = FollowRule(ThresholdFollow(5, 4), median=1.0, calibrated=2.0)  # T0 = 2, T = 4 (g = 2)


def flags(rule: AlarmRule, error: np.ndarray, threshold: float = 4.0) -> np.ndarray:
    return rule.flag_rows(error / threshold, np.ones(len(error), bool), None, error)


def test_the_threshold_follows_a_drift_past_the_headroom_and_never_drops_below_the_bundle_s():
    drift = np.linspace(1.0, 6.0, 200)  # the usual error grows to 6 x the held-out median
    fixed, following = flags(AlarmRule(), drift), flags(AlarmRule(follow=RULE), drift)
    assert fixed.sum() > 50 and following.sum() == 0  # each reading below 2 x its lagged median
    rng = np.random.default_rng(0)
    noisy = rng.gamma(2.0, 1.5, 300)
    assert not (flags(AlarmRule(follow=RULE), noisy) & ~flags(AlarmRule(), noisy)).any()


def test_a_fault_is_flagged_until_it_is_half_its_baseline_then_absorbed():
    error = np.concatenate([np.full(50, 1.0), np.full(6, 30.0), np.full(20, 1.0)])
    assert np.flatnonzero(flags(AlarmRule(follow=RULE), error)).tolist() == list(range(50, 56))
    long = np.concatenate([np.full(50, 1.0), np.full(40, 30.0)])  # half the span from 5 + 4/2 - 1
    assert np.flatnonzero(flags(AlarmRule(follow=RULE), long)).tolist() == list(range(50, 56))


def test_without_history_a_follow_rule_flags_what_the_fixed_threshold_does():
    error = np.array([np.nan, 1.0, 5.0, np.inf, 3.0, 9.0])
    scored = ~np.isnan(error)
    rule = AlarmRule(Persistence(1, 2), follow=FollowRule(ThresholdFollow(6, 1), 1.0, 2.0))
    assert (rule.flag_rows(error / 4, scored, None, error).tolist()
            == AlarmRule(Persistence(1, 2)).flag_rows(error / 4, scored).tolist())
    with pytest.raises(ValueError, match="error"):
        rule.flag_rows(error / 4, scored)


def test_a_bundle_records_lag_rows_m_and_t0_and_one_without_them_is_off():
    calibration = {"threshold": 6.0, "quantiles": {"0.5": 0.5},
                   "details": {"calibrated_threshold": 3.0, "gap": 2.0}}
    rule = rule_for(ThresholdFollow(300, 200), calibration)
    assert rule == FollowRule(ThresholdFollow(300, 200), 0.5, 3.0)
    assert follow_of({"threshold_follow": rule.to_meta()}) == rule
    assert follow_of({}) is None and rule_for(ThresholdFollow(), calibration) is None
    plain = rule_for(ThresholdFollow(1, 1), {"threshold": 6.0, "quantiles": {"0.5": 0.5}})
    assert plain is not None and plain.calibrated == 6.0  # no headroom: T0 is T
    with pytest.raises(DataError, match="positive"):
        FollowRule(ThresholdFollow(1, 1), 0.0, 1.0)


def test_training_settings_record_the_follow_and_old_ones_read_back_as_off():
    settings_ = TrainingSettings(threshold_follow=ThresholdFollow(300, 200))
    again = TrainingSettings.from_dict(settings_.to_dict())
    assert again.threshold_follow == ThresholdFollow(300, 200)
    old = settings_.to_dict()
    del old["threshold_follow"]
    assert TrainingSettings.from_dict(old).threshold_follow == ThresholdFollow()
    with pytest.raises(DataError, match="LAG"):
        TrainingSettings.from_dict({**old, "threshold_follow": {"lag": 5, "rows": 0}})


@FEW
@given(error=st.lists(st.integers(0, 240).map(lambda i: i / 4), min_size=1, max_size=80),
       threshold=st.sampled_from([1.5, 3.0, 12.0, 24.0]))
def test_another_threshold_moves_the_whole_threshold_by_its_ratio_at_every_reading(error,
                                                                                   threshold):
    """`--threshold X` on a bundle whose threshold T follows: T_t becomes X / T times the
    bundle's max(T, T0 · median(r)), not max(X, T0 · median(r)) (T0 left behind). (Figures
    exact in binary: no rounding at the boundaries.)"""
    meta = {"calibration": {"threshold": 6.0},
            "threshold_follow": {"lag": 3, "rows": 4, "median": 2.0, "calibrated_threshold": 3.0}}
    error = np.array(error)
    rule = AlarmRule.of(meta, threshold=threshold)
    assert rule.follow == FollowRule(ThresholdFollow(3, 4), 2.0, 3.0 * threshold / 6.0)
    limit = threshold / 6.0 * np.fmax(6.0, 3.0 * by_definition(error / 2.0, 3, 4))
    assert (rule.flag_rows(error / threshold, np.ones(len(error), bool), None, error).tolist()
            == (error > limit).tolist())
    assert AlarmRule.of(meta).follow == follow_of(meta) == AlarmRule.of(meta, threshold=6.0).follow
