"""Calibration keeps its promise on known distributions; bad inputs are refused."""

import numpy as np
import pytest

from detector.core.calibration import calibrate, fit_gpd_pwm
from detector.errors import DataError


@pytest.mark.parametrize("method", ["quantile", "pot"])
def test_threshold_meets_the_target_rate_on_fresh_samples(method):
    rng = np.random.default_rng(0)
    held_out = rng.gamma(3.0, 1.0, size=50_000)
    fresh = rng.gamma(3.0, 1.0, size=1_000_000)
    cal = calibrate(held_out, method, target_far=0.001)
    assert 0.0007 <= np.mean(fresh > cal.threshold) <= 0.0014
    assert cal.holdout_size == 50_000 and cal.method == method


def test_pot_extrapolates_beyond_a_small_held_out_set():
    rng = np.random.default_rng(1)
    held_out = rng.exponential(1.0, size=2_000)  # only two errors above the 0.999 quantile
    cal = calibrate(held_out, "pot", target_far=0.0001)
    assert abs(cal.threshold - np.log(1e4)) < 1.5  # the true quantile is ln(10 000) = 9.21
    assert cal.details["peaks"] >= 30


def test_gpd_fit_recovers_shape_and_scale():
    rng = np.random.default_rng(2)
    shape, scale = 0.2, 2.0
    u = rng.uniform(size=200_000)
    sample = np.sort(scale / shape * (u ** (-shape) - 1))
    fitted_shape, fitted_scale = fit_gpd_pwm(sample)
    assert fitted_shape == pytest.approx(shape, abs=0.02)
    assert fitted_scale == pytest.approx(scale, rel=0.03)


def test_reported_quantiles_come_from_the_held_out_errors():
    cal = calibrate(np.arange(1, 1001, dtype=float), "quantile", 0.01)
    assert cal.quantiles["0.5"] == pytest.approx(500.5)
    assert cal.quantiles["max"] == 1000


@pytest.mark.parametrize(
    ("errors", "method", "far", "message"),
    [
        (np.ones(100), "magic", 0.001, "unknown calibration method"),
        (np.ones(100), "pot", 0.0, "--target-far"),
        (np.ones(5), "pot", 0.001, "at least 10"),
        (np.array([1.0] * 20 + [np.nan]), "quantile", 0.001, "finite"),
    ],
)
def test_bad_calibration_input_is_refused(errors, method, far, message):
    with pytest.raises(DataError, match=message):
        calibrate(errors, method, far)
