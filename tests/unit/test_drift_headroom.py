"""The drift headroom: a growth exponent from a probe's errors against their distance, and the
held-out excess carried to the horizon by it; the threshold grows as that median, never lower."""

import numpy as np
import pytest

from detector.core.calibration import Headroom, calibrate, drift_headroom, growth_exponent
from detector.errors import DataError

DISTANCES = np.arange(1.0, 201.0)
RNG = np.random.default_rng(3)


@pytest.mark.parametrize("beta", [0.25, 0.5, 1.0, 1.5])
def test_the_exponent_of_a_power_law_growth_over_a_floor_is_found(beta):
    errors = 2.0 + 0.01 * DISTANCES**beta
    assert growth_exponent(2.0, errors, DISTANCES, power=2) == pytest.approx(beta, rel=0.02)


def test_the_order_of_the_windows_does_not_matter():
    errors = 1.0 + 0.1 * DISTANCES
    order = RNG.permutation(len(DISTANCES))
    assert growth_exponent(1.0, errors[order], DISTANCES[order], 2) == pytest.approx(
        growth_exponent(1.0, errors, DISTANCES, 2))


def test_faster_growth_than_the_residual_s_power_is_clamped_to_it():
    errors = 1.0 + 1e-4 * DISTANCES**3
    assert growth_exponent(1.0, errors, DISTANCES, power=2) == 2.0
    assert growth_exponent(1.0, errors, DISTANCES, power=1) == 1.0


def test_no_growth_gives_zero_and_growth_out_of_the_floor_gives_the_power():
    flat = np.full(len(DISTANCES), 1.5)
    assert growth_exponent(1.0, flat, DISTANCES, 2) == 0.0
    assert growth_exponent(1.0, 3.0 - 0.01 * DISTANCES, DISTANCES, 2) == 0.0
    rising_from_below = np.where(DISTANCES > 100, 2.0, 0.5)
    assert growth_exponent(1.0, rising_from_below, DISTANCES, 2) == 2.0
    assert growth_exponent(1.0, flat, np.full(len(DISTANCES), 5.0), 2) == 0.0


def test_the_held_out_excess_is_carried_to_the_horizon():
    fit = RNG.normal(1.0, 0.01, 301)
    held = RNG.normal(1.5, 0.01, 101)
    held_distances = np.arange(20.0, 121.0)
    room = drift_headroom(fit, held, held_distances, beta=1.0, distance=520.0)
    e0, eh = np.median(fit), np.median(held)
    assert room.factor == pytest.approx((e0 + (eh - e0) * 520 / 70) / eh)
    assert room.details["held_out_distance"] == 70 and room.details["drift_distance"] == 520
    assert room.details["drift_exponent"] == 1.0 and room.details["headroom"] == room.factor
    assert drift_headroom(fit, held, held_distances, 0.0, 520.0).factor == pytest.approx(1.0)


def test_a_model_no_worse_on_held_out_data_keeps_its_threshold():
    fit, held = np.full(50, 2.0), np.full(20, 1.8)
    assert drift_headroom(fit, held, np.arange(1.0, 21.0), beta=2.0, distance=500).factor == 1.0


def test_calibration_multiplies_by_the_headroom_and_records_it():
    held = RNG.exponential(1.0, 400)
    plain = calibrate(held, "pot", 0.01)
    room = Headroom(1.7, {"headroom": 1.7, "drift_exponent": 0.4})
    raised = calibrate(held, "pot", 0.01, headroom=room)
    assert raised.threshold == pytest.approx(plain.threshold * 1.7)
    assert raised.details["calibrated_threshold"] == pytest.approx(plain.threshold)
    assert raised.details["drift_exponent"] == 0.4
    assert calibrate(held, "pot", 0.01, margin=2, headroom=room).threshold == pytest.approx(
        plain.threshold * 3.4)


def test_the_excess_grows_as_the_distance_to_the_power_beta():
    fit, held = np.full(11, 1.0), np.full(11, 2.0)
    room = drift_headroom(fit, held, np.full(11, 10.0), beta=2.0, distance=40.0)
    assert room.factor == pytest.approx((2.0 + 1.0 * (4.0**2 - 1.0)) / 2.0)  # 8.5


def test_small_positive_errors_and_distances_are_enough():
    room = drift_headroom(np.full(5, 0.2), np.full(5, 0.4), np.full(5, 0.5), 1.0, 1.0)
    assert room.factor == pytest.approx((0.4 + 0.2 * 1.0) / 0.4)


@pytest.mark.parametrize("zero", ["fit", "held", "distance"])
def test_a_zero_median_error_or_distance_is_refused(zero):
    args = {"fit": np.ones(5), "held": np.full(5, 2.0), "distance": np.full(5, 3.0)}
    args[zero] = np.zeros(5)
    with pytest.raises(DataError, match=r"^a drift headroom needs positive training and held-out "
                                        r"errors$"):
        drift_headroom(args["fit"], args["held"], args["distance"], 1.0, 10.0)


def test_errors_that_do_not_grow_give_no_exponent_even_at_the_floor():
    assert growth_exponent(1.0, np.full(len(DISTANCES), 1.0), DISTANCES, 2) == 0.0


def test_a_headroom_multiplies_the_threshold_and_joins_the_details():
    errors = RNG.gamma(3.0, 1.0, 1_000)
    plain = calibrate(errors, "quantile", 0.01)
    room = calibrate(errors, "quantile", 0.01, headroom=Headroom(1.5, {"headroom": 1.5}))
    assert room.threshold == pytest.approx(1.5 * plain.threshold)
    assert room.details == {"independent_windows": 1000, "headroom": 1.5,
                            "calibrated_threshold": plain.threshold}
    same = calibrate(errors, "quantile", 0.01, headroom=Headroom(1.0, {"headroom": 1.0}))
    assert same.details["calibrated_threshold"] == same.threshold == plain.threshold
