"""Calibration keeps its promise on known distributions; bad inputs are refused."""

import json
import re

import numpy as np
import pytest

from detector.core.calibration import Calibration, calibrate, fit_gpd_pwm
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


@pytest.mark.parametrize(
    ("errors", "options", "message"),
    [
        (np.ones(100), {"method": "magic"},
         "unknown calibration method 'magic': choose one of quantile, pot"),
        (np.ones(100), {"target_far": 0.5}, "--target-far must be between 0 and 0.5, got 0.5"),
        (np.ones(100), {"margin": 0.9}, "--margin must be between 1 and 100, got 0.9"),
        (np.ones(100), {"margin": 100.5}, "--margin must be between 1 and 100, got 100.5"),
        (np.ones(9), {}, "calibration needs at least 10 finite held-out errors, got 9"),
    ],
)
def test_the_refusal_says_what_to_change(errors, options, message):
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        calibrate(errors, **options)


def test_the_edges_of_the_accepted_ranges_are_accepted():
    ten = np.arange(1.0, 11.0)
    assert calibrate(ten, "quantile", 0.1).holdout_size == 10
    assert calibrate(ten, "quantile", 0.1, margin=100.0).threshold == pytest.approx(
        100.0 * np.quantile(ten, 0.9))


def test_the_defaults_are_pot_at_one_in_a_thousand_over_single_readings():
    errors = np.random.default_rng(4).gamma(2.0, 1.0, 3_000)
    default = calibrate(errors)
    assert default == calibrate(errors, "pot", 0.001)
    assert default.details["independent_windows"] == 3_000


def test_quantile_is_the_empirical_quantile_of_the_held_out_errors():
    errors = np.random.default_rng(5).exponential(1.0, 200)
    cal = calibrate(errors, "quantile", 0.05)
    assert cal.threshold == np.quantile(errors, 0.95)
    assert cal.target_far == 0.05 and cal.method == "quantile"
    assert cal.details == {"independent_windows": 200}  # no headroom: nothing else to say


def test_overlapping_windows_count_as_fewer_independent_ones():
    cal = calibrate(np.arange(1.0, 102.0), "quantile", 0.01, window=3)
    assert cal.details["independent_windows"] == 34.3  # (101 + 3 - 1) / 3, to one decimal


def test_a_margin_alone_multiplies_the_threshold_and_the_bundle_keeps_the_calibrated_one():
    errors = np.random.default_rng(6).gamma(3.0, 1.0, 2_000)
    plain = calibrate(errors, "pot", 0.01)
    wider = calibrate(errors, "pot", 0.01, margin=2.0)
    assert wider.threshold == pytest.approx(2.0 * plain.threshold)
    assert wider.details["margin"] == 2.0
    assert wider.details["calibrated_threshold"] == plain.threshold
    assert "margin" not in plain.details and "calibrated_threshold" not in plain.details


def test_pot_records_its_fit():
    errors = np.random.default_rng(7).gamma(3.0, 1.0, 5_000)
    cal = calibrate(errors, "pot", 0.001)
    assert set(cal.details) == {"independent_windows", "initial_threshold", "peaks", "shape",
                                "scale"}
    assert cal.details["initial_threshold"] == np.quantile(errors, 0.98)
    assert cal.details["peaks"] == int(np.sum(errors > cal.details["initial_threshold"]))


def test_a_small_held_out_set_lowers_the_initial_quantile_to_keep_ten_peaks():
    errors = np.random.default_rng(8).gamma(3.0, 1.0, 200)
    cal = calibrate(errors, "pot", 0.001)
    assert cal.details["initial_threshold"] == np.quantile(errors, 0.95)  # 1 - 10 / 200
    assert cal.details["peaks"] == 10


def test_a_high_target_lowers_the_initial_quantile_below_the_target():
    errors = np.random.default_rng(9).gamma(3.0, 1.0, 5_000)
    cal = calibrate(errors, "pot", 0.02)
    assert cal.details["initial_threshold"] == np.quantile(errors, 0.96)  # 1 - 2 x 0.02


def test_the_peaks_are_the_errors_strictly_above_the_initial_threshold():
    errors = np.concatenate([np.full(990, 1.0), np.linspace(2.0, 3.0, 10)])
    cal = calibrate(errors, "pot", 0.001)
    assert cal.details["initial_threshold"] == 1.0 and cal.details["peaks"] == 10


@pytest.mark.parametrize("peaks", [5, 6])
def test_five_peaks_are_enough_for_a_fit(peaks):
    errors = np.concatenate([np.full(1000 - peaks, 1.0), np.linspace(2.0, 3.0, peaks)])
    assert calibrate(errors, "pot", 0.001).details["peaks"] == peaks


def test_with_fewer_than_five_peaks_pot_falls_back_to_the_empirical_quantile():
    errors = np.concatenate([np.full(996, 1.0), [2.0, 2.5, 3.0, 4.0]])
    cal = calibrate(errors, "pot", 0.002)
    assert cal.threshold == np.quantile(errors, 0.998)
    assert cal.details == {"initial_threshold": 1.0, "peaks": 0, "independent_windows": 1000}


def test_exponential_peaks_give_the_exponential_quantile():
    """Peaks whose fitted shape is 0 (built so): the threshold is t − σ ln(target · n / peaks)."""
    n = 19
    peaks = -np.log(1 - (np.arange(1, n) - 0.5) / n)
    weights = 1 - (np.arange(1, n + 1) - 0.35) / n
    c = 1 - 4 * weights  # the last peak makes Hosking's k exactly 0
    peaks = np.append(peaks, -np.sum(peaks * c[:-1]) / c[-1])
    errors = np.concatenate([np.full(981, 3.0), 3.0 + peaks])
    shape, scale = fit_gpd_pwm(peaks)
    assert abs(shape) < 1e-9
    cal = calibrate(errors, "pot", 0.001)
    assert cal.threshold == pytest.approx(3.0 - scale * np.log(0.001 * 1000 / n))


@pytest.mark.parametrize("unit", [1e-4, 1e3])
def test_errors_in_other_units_give_the_same_threshold_in_those_units(unit):
    errors = np.random.default_rng(10).gamma(3.0, 1.0, 3_000)
    for method in ("quantile", "pot"):
        assert calibrate(errors * unit, method, 0.001).threshold == pytest.approx(
            unit * calibrate(errors, method, 0.001).threshold, rel=1e-9)


def test_pot_follows_a_heavy_tail_beyond_the_held_out_data():
    u = np.random.default_rng(0).uniform(size=20_000)
    held_out = (u**-0.3 - 1) / 0.3  # a generalised Pareto tail of shape 0.3
    cal = calibrate(held_out, "pot", 1e-4)
    assert cal.details["shape"] == pytest.approx(0.3, abs=0.05)
    assert cal.threshold == pytest.approx((1e4**0.3 - 1) / 0.3, rel=0.15)  # the true 49.5


def test_a_calibration_is_recorded_as_json_and_read_back_whole():
    cal = calibrate(np.random.default_rng(11).gamma(3.0, 1.0, 500), "pot", 0.01, margin=1.5)
    recorded = json.loads(json.dumps(cal.to_dict()))
    assert recorded["threshold"] == cal.threshold and recorded["details"]["margin"] == 1.5
    assert Calibration(**recorded) == cal
