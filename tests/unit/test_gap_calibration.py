"""`calibrate(..., gap_power=P)`: the threshold grows with how much worse held-out errors are than
training errors, by (median held-out / median training) ** P, and never shrinks."""

import numpy as np
import pytest

from detector.core.calibration import calibrate
from detector.errors import DataError

RNG = np.random.default_rng(0)
HELD = RNG.exponential(2.0, 500)
FIT = RNG.exponential(1.0, 1000)


def test_the_threshold_is_the_calibrated_one_times_the_gap_to_the_power():
    plain = calibrate(HELD, "quantile", 0.01)
    gapped = calibrate(HELD, "quantile", 0.01, fit_errors=FIT, gap_power=2)
    gap = np.median(HELD) / np.median(FIT)
    assert gapped.details["gap"] == pytest.approx(gap)
    assert gapped.details["calibrated_threshold"] == pytest.approx(plain.threshold)
    assert gapped.threshold == pytest.approx(plain.threshold * gap**2)


def test_the_gap_and_the_margin_multiply():
    both = calibrate(HELD, "pot", 0.01, margin=1.5, fit_errors=FIT, gap_power=1)
    assert both.threshold == pytest.approx(
        both.details["calibrated_threshold"] * 1.5 * both.details["gap"])


def test_a_model_that_does_better_on_unseen_data_keeps_its_threshold():
    assert calibrate(FIT, "quantile", 0.01, fit_errors=HELD, gap_power=2).threshold == (
        calibrate(FIT, "quantile", 0.01).threshold)


def test_without_training_errors_a_gap_is_refused():
    with pytest.raises(DataError, match="training windows"):
        calibrate(HELD, "pot", 0.01, gap_power=2)


def test_the_bundle_records_the_gap_and_its_power():
    gapped = calibrate(HELD, "quantile", 0.01, fit_errors=FIT, gap_power=2)
    assert gapped.details["gap_power"] == 2


def test_a_gap_of_one_keeps_the_threshold_and_says_so():
    kept = calibrate(FIT, "quantile", 0.01, fit_errors=HELD, gap_power=2)
    assert kept.details["gap"] == 1.0
    assert kept.details["calibrated_threshold"] == kept.threshold


def test_one_training_error_is_enough_and_a_zero_median_is_refused():
    one = calibrate(HELD, "quantile", 0.01, fit_errors=np.array([0.5]), gap_power=1)
    assert one.details["gap"] == pytest.approx(np.median(HELD) / 0.5)
    refusal = r"^a generalisation gap needs the training windows' errors$"
    with pytest.raises(DataError, match=refusal):
        calibrate(HELD, "pot", 0.01, fit_errors=np.zeros(50), gap_power=2)
