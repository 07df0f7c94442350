"""Sliding windows per device, and the quality figures against labels."""

import numpy as np
import pytest

from detector.core.windows import windows_by_device
from detector.offline.evaluate import quality, recall_by_kind, truth_of


def test_windows_hold_each_reading_with_the_ones_before_it_from_the_same_device():
    values = np.arange(12, dtype=float).reshape(6, 2)
    devices = np.array(["a", "b", "a", "b", "a", "b"])
    windows, rows = windows_by_device(values, 2, devices)
    assert rows.tolist() == [2, 3, 4, 5]
    assert windows[0].tolist() == [[0, 1], [4, 5]]  # rows 0 and 2, both of device a
    assert windows[1].tolist() == [[2, 3], [6, 7]]


def test_point_wise_windows_are_every_row():
    windows, rows = windows_by_device(np.ones((3, 4)), 1)
    assert windows.shape == (3, 1, 4) and rows.tolist() == [0, 1, 2]


def test_quality_follows_the_skab_formulas():
    truth = np.array([1, 1, 1, 0, 0, 0, 0, 0], dtype=bool)
    flagged = np.array([1, 1, 0, 1, 0, 0, 0, 0], dtype=bool)
    q = quality(truth, flagged)
    assert (q.tp, q.fp, q.fn, q.tn) == (2, 1, 1, 4)
    assert q.f1 == pytest.approx(2 / (2 + 1))
    assert q.far == pytest.approx(20.0) and q.mar == pytest.approx(100 / 3)
    assert q.precision == pytest.approx(2 / 3) and q.recall == pytest.approx(2 / 3)
    assert (q + q).tp == 4


def test_labels_may_be_numbers_or_kind_names():
    assert truth_of(np.array([0.0, 1.0])).tolist() == [False, True]
    labels = np.array(["normal", "spike", "drift", "spike"])
    assert truth_of(labels).tolist() == [False, True, True, True]
    flagged = np.array([False, True, False, False])
    assert recall_by_kind(labels, flagged) == {"drift": 0.0, "spike": 0.5}
