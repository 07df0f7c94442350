"""The injected faults of bench/quality/injection.py: the span, the shape and the size in σ."""

from __future__ import annotations

import numpy as np
import pytest

from bench.quality.injection import FAULTS, LENGTH, Fault, inject

COLUMNS = ["Accelerometer1RMS", "Accelerometer2RMS", "Current", "Pressure", "Temperature",
           "Thermocouple", "Voltage", "Volume Flow RateRMS"]
TRAIN, START, ROWS = 400, 570, 1400


@pytest.fixture
def values() -> np.ndarray:
    """Normal-looking rows, each channel with its own level and spread."""
    rng = np.random.default_rng(7)
    return rng.normal(loc=np.arange(8) * 10.0, scale=np.arange(1, 9) * 0.5, size=(ROWS, 8))


def added(values: np.ndarray, fault: Fault, magnitude: float, seed: int = 0) -> np.ndarray:
    """What the fault added, in units of each channel's training σ."""
    faulty = inject(values, COLUMNS, fault, magnitude, TRAIN, START, seed)
    return (faulty - values) / values[:TRAIN].std(axis=0)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_a_fault_touches_only_its_channels_and_rows(values: np.ndarray, fault: Fault) -> None:
    moved = added(values, fault, 6.0) != 0
    span = slice(START, START + LENGTH)
    assert moved.shape == values.shape
    assert not moved[:START].any() and not moved[START + LENGTH:].any()
    named = [COLUMNS.index(c) for c in fault.channels]
    others = [i for i in range(8) if i not in named]
    assert not moved[span][:, others].any()
    assert moved[span][:, named].any(axis=0).all()


def test_the_input_is_left_as_it_was(values: np.ndarray) -> None:
    before = values.copy()
    inject(values, COLUMNS, FAULTS[0], 6.0, TRAIN, START)
    assert np.array_equal(values, before)


@pytest.mark.parametrize("magnitude", [2.0, 6.0])
def test_a_step_is_the_magnitude_in_training_sigma_with_its_sign(values: np.ndarray,
                                                                  magnitude: float) -> None:
    leak = next(f for f in FAULTS if f.name == "leak")
    moved = added(values, leak, magnitude)[START:START + LENGTH]
    for channel in leak.channels:
        assert np.allclose(moved[:, COLUMNS.index(channel)], -magnitude)


def test_the_slow_shapes_end_at_the_magnitude_and_grow() -> None:
    values = np.random.default_rng(1).normal(size=(ROWS, 8))
    for name in ("temperature ramp", "vibration exponential"):
        fault = next(f for f in FAULTS if f.name == name)
        column = added(values, fault, 2.0)[START:START + LENGTH, COLUMNS.index(fault.channels[0])]
        assert column[-1] == pytest.approx(2.0)
        assert np.all(np.diff(column) > 0) and 0 < column[0] < 0.05


def test_pulses_rise_twice_the_magnitude_every_tenth_row(values: np.ndarray) -> None:
    pulses = next(f for f in FAULTS if f.name == "vibration pulses")
    column = added(values, pulses, 2.0)[START:START + LENGTH, 0]
    assert np.allclose(column[::10], 4.0)
    assert np.count_nonzero(column) == LENGTH // 10


def test_noise_has_the_magnitude_as_its_deviation_and_its_seed_repeats(values) -> None:
    cavitation = next(f for f in FAULTS if f.name == "cavitation")
    one = added(values, cavitation, 6.0, seed=3)[START:START + LENGTH, COLUMNS.index("Pressure")]
    assert one.std() == pytest.approx(6.0, rel=0.15)
    assert np.array_equal(one, added(values, cavitation, 6.0, seed=3)[START:START + LENGTH, 3])
    assert not np.array_equal(one, added(values, cavitation, 6.0, seed=4)[START:START + LENGTH, 3])


def test_a_fault_that_would_leave_the_scored_rows_is_refused(values: np.ndarray) -> None:
    with pytest.raises(ValueError, match="leaves the scored rows"):
        inject(values, COLUMNS, FAULTS[0], 2.0, TRAIN, ROWS - LENGTH + 1)
    with pytest.raises(ValueError, match="leaves the scored rows"):
        inject(values, COLUMNS, FAULTS[0], 2.0, TRAIN, TRAIN - 1)
