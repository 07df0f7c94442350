"""Per-device memory of the serve loop: streamed windows, persistence and follow rule equal the
offline ones."""

from __future__ import annotations

import numpy as np
import pytest

from detector.core.alarm import AlarmRule, Persistence, persist_by_device
from detector.core.follow import FollowRule, ThresholdFollow
from detector.core.windows import WindowHistory, windows_by_device
from detector.errors import DataError
from detector.stream.memory import DeviceMemory


def stream(history: WindowHistory, devices: list[str], values: np.ndarray,
           cuts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Feed the readings in batches cut at `cuts`; all windows and their rows in the whole."""
    windows, rows, start = [], [], 0
    for end in [*cuts, len(values)]:
        w, r = history.windows(devices[start:end], values[start:end])
        windows.append(w)
        rows.append(r + start)
        start = end
    return np.concatenate(windows), np.concatenate(rows)


@pytest.mark.parametrize("window", [1, 2, 5])
@pytest.mark.parametrize("seed", range(5))
def test_windows_of_a_stream_in_batches_are_the_windows_of_the_whole(window, seed):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(120, 3))
    devices = rng.choice(["a", "b", "c", "d"], size=120).tolist()
    cuts = sorted(rng.choice(np.arange(1, 120), size=6, replace=False).tolist())

    got = stream(WindowHistory(window, 3), devices, values, cuts)
    whole = windows_by_device(values, window, np.array(devices))

    np.testing.assert_array_equal(got[1], whole[1])
    np.testing.assert_array_equal(got[0], whole[0])


def test_a_window_holds_the_device_s_readings_before_it_in_order():
    values = np.arange(12, dtype=float).reshape(6, 2)
    windows, rows = windows_by_device(values, 2, np.array(["x", "y", "x", "y", "x", "x"]))

    assert rows.tolist() == [2, 3, 4, 5]
    assert windows[0].tolist() == [[0, 1], [4, 5]]  # rows 0 and 2 of device x
    assert windows[3].tolist() == [[8, 9], [10, 11]]


def test_a_device_s_first_readings_are_held_until_its_window_fills():
    history = WindowHistory(3, 1)

    first = history.windows(["p"], np.array([[1.0]]))
    second = history.windows(["p"], np.array([[2.0]]))
    third = history.windows(["p", "q"], np.array([[3.0], [9.0]]))

    assert len(first[0]) == len(second[0]) == 0
    assert third[1].tolist() == [0] and third[0][0, :, 0].tolist() == [1.0, 2.0, 3.0]
    assert len(history) == 2


def test_the_device_seen_least_recently_is_forgotten_past_the_bound():
    history = WindowHistory(2, 1, max_devices=2)
    history.windows(["a", "b"], np.array([[1.0], [2.0]]))
    history.windows(["a", "c"], np.array([[3.0], [4.0]]))  # b is the stalest: forgotten

    windows, rows = history.windows(["c", "b"], np.array([[5.0], [6.0]]))  # a goes now

    assert len(history) == 2
    assert rows.tolist() == [0]  # b starts afresh
    assert windows[:, :, 0].tolist() == [[4.0, 5.0]]
    assert len(history.windows(["a"], np.array([[7.0]]))[1]) == 0


def test_a_batch_of_more_devices_than_the_bound_is_refused_with_what_to_change():
    with pytest.raises(DataError, match="more than max_devices"):
        WindowHistory(3, 1, max_devices=2).windows(["a", "b", "c"], np.ones((3, 1)))


def test_streamed_persistence_flags_what_the_offline_rule_flags():
    rng = np.random.default_rng(3)
    devices = rng.choice(["a", "b", "c"], size=200).tolist()
    values = rng.normal(size=(200, 2))
    rule = Persistence(2, 3)
    memory = DeviceMemory(4, 2, rule)
    offline_windows, offline_rows = windows_by_device(values, 4, np.array(devices))
    above_all = np.zeros(200, dtype=bool)
    above_all[offline_rows] = offline_windows[:, -1, 0] > 0.5
    expected = persist_by_device(above_all, rule, np.array(devices))[offline_rows]

    flags = []
    for start in range(0, 200, 37):
        batch, chunk = devices[start:start + 37], values[start:start + 37]
        windows, rows = memory.windows(batch, np.zeros(len(batch), dtype=int), chunk)
        flags.append(memory.flags(batch, rows, windows[:, -1, 0] > 0.5))

    np.testing.assert_array_equal(np.concatenate(flags), expected)
    assert expected.sum() > 5


def test_revoked_partitions_take_their_devices_windows_with_them():
    memory = DeviceMemory(3, 1, Persistence(1, 2))
    _, rows = memory.windows(["a", "b", "c"], np.array([0, 1, 1]), np.ones((3, 1)))
    memory.flags(["a", "b", "c"], rows, np.zeros(len(rows), dtype=bool))

    assert memory.forget_partitions({1}) == 2

    assert len(memory) == 1 and len(memory.history) == 1 and len(memory.persistence) == 1
    _, rows = memory.windows(["a", "b"], np.array([0, 1]), np.ones((2, 1)))
    assert len(rows) == 0  # a holds two readings, b starts again: no full window yet
    _, rows = memory.windows(["a"], np.array([0]), np.ones((1, 1)))
    assert rows.tolist() == [0]


def test_a_point_wise_model_without_persistence_remembers_nothing():
    memory = DeviceMemory(1, 2, Persistence())
    above = np.array([True, False])

    windows, rows = memory.windows(["a", "b"], np.array([0, 0]), np.ones((2, 2)))

    assert windows.shape == (2, 1, 2) and rows.tolist() == [0, 1]
    assert memory.flags(["a", "b"], rows, above) is above
    assert len(memory) == 0 and len(memory.history) == 0


@pytest.mark.parametrize(("seed", "size"), [(0, 1), (1, 7), (2, 37), (3, 500)])
def test_streamed_follow_and_persistence_flag_what_the_offline_rule_flags(seed, size):
    rng = np.random.default_rng(seed)
    devices = rng.choice(["a", "b", "c"], size=500).tolist()
    drift = np.linspace(1.0, 4.0, 500)[:, None]  # the usual error grows past the headroom
    values = rng.normal(size=(500, 2)) * drift
    follow = FollowRule(ThresholdFollow(20, 15), median=0.5, calibrated=1.5)
    rule = AlarmRule(Persistence(2, 3), follow)
    windows, ends = windows_by_device(values, 3, np.array(devices))
    error, scored = np.full(500, np.nan), np.zeros(500, dtype=bool)
    error[ends], scored[ends] = (windows ** 2).mean(axis=(1, 2)), True
    expected = rule.flag_rows(error / 3.0, scored, np.array(devices), error)[ends]

    memory, flags = DeviceMemory(3, 2, rule.persistence, follow=follow), []
    for start in range(0, 500, size):
        batch, chunk = devices[start:start + size], values[start:start + size]
        w, rows = memory.windows(batch, np.zeros(len(batch), dtype=int), chunk)
        e = (w ** 2).mean(axis=(1, 2))
        flags.append(memory.flags(batch, rows, rule.above(e / 3.0), e))

    np.testing.assert_array_equal(np.concatenate(flags), expected)
    fixed = AlarmRule(Persistence(2, 3)).flag_rows(error / 3.0, scored, np.array(devices))[ends]
    assert 10 < expected.sum() < fixed.sum() / 2
    assert memory.forget_partitions({0}) == 3 and memory.following is not None
    assert len(memory.following) == 0


def test_a_follow_rule_makes_the_memory_active_and_needs_the_errors():
    memory = DeviceMemory(1, 2, Persistence(), follow=FollowRule(ThresholdFollow(1, 1), 1.0, 1.0))
    assert memory.active and memory.keeps_flags
    _, rows = memory.windows(["a"], np.array([0]), np.ones((1, 2)))
    with pytest.raises(ValueError, match="error"):
        memory.flags(["a"], rows, np.array([True]))
