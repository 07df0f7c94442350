"""The memory of cleaned rows beside the retrain window: what enters it (kept rows leaving the
window, once each), how it is bounded (per device, oldest out first), and that challengers train
on it while the cleaning and the gate see the window only."""

from __future__ import annotations

import numpy as np

from detector.lifecycle.backtest import Policy, backtest
from detector.lifecycle.memory import Memory, leaving
from tests.helpers.lifecycle import HISTORY, MeanTrainer, mean_model, readings


def test_the_rows_leaving_are_those_the_next_window_no_longer_holds():
    assert leaving(1000, 1200, 300).tolist() == [True] * 100 + [False] * 900
    assert not leaving(800, 1200, 300).any()  # the window is not yet full enough to lose rows
    devices = np.array(["a", "b"] * 6)
    going = leaving(12, 5, 2, devices)  # each device: 6 rows, the newest 3 stay
    assert going.tolist() == [True] * 6 + [False] * 6


def test_only_kept_rows_enter_each_as_its_own_stretch():
    memory = Memory(100)
    values = np.arange(10, dtype=float).reshape(-1, 1)
    keep = np.array([1, 1, 1, 0, 0, 1, 1, 0, 1, 1], dtype=bool)
    memory.add(values, keep, np.arange(10))
    rows, segments = memory.rows(1)
    assert rows[:, 0].tolist() == [0, 1, 2, 5, 6, 8, 9]
    assert segments.tolist() == [0, 0, 0, 1, 1, 2, 2]


def test_a_row_enters_once_and_the_oldest_go_past_the_bound():
    memory = Memory(5)
    values = np.arange(8, dtype=float).reshape(-1, 1)
    memory.add(values[:4], np.ones(4, bool), np.arange(4))
    memory.add(values[2:8], np.ones(6, bool), np.arange(2, 8))  # rows 2 and 3 again
    rows, _ = memory.rows(1)
    assert rows[:, 0].tolist() == [3, 4, 5, 6, 7]
    assert len(memory) == 5


def test_each_device_has_its_own_bound_and_devices_are_forgotten():
    memory = Memory(3)
    values = np.arange(12, dtype=float).reshape(-1, 1)
    devices = np.array(["a", "b"] * 6, dtype=object)
    memory.add(values, np.ones(12, bool), np.arange(12), devices)
    rows, segments = memory.rows(1)
    assert sorted(rows[:, 0].tolist()) == [6, 7, 8, 9, 10, 11]
    assert len(set(segments.tolist())) == 2  # never one stretch across two devices
    memory.forget_except({"b"})
    assert memory.rows(1)[0][:, 0].tolist() == [7, 9, 11]


def test_only_devices_with_a_row_remembered_count():
    memory = Memory(10)
    assert memory.devices() == 0
    values = np.arange(6, dtype=float).reshape(-1, 1)
    devices = np.array(["a", "b", "c"] * 2, dtype=object)
    keep = np.array([1, 0, 1, 1, 0, 0], dtype=bool)  # "b" kept nothing
    memory.add(values, keep, np.arange(6), devices)
    assert (len(memory), memory.devices()) == (3, 2)
    memory.forget_except({"a", "b"})
    assert (len(memory), memory.devices()) == (2, 1)


def test_a_memory_of_no_rows_remembers_nothing():
    memory = Memory(0)
    memory.add(np.ones((5, 2)), np.ones(5, bool), np.arange(5))
    assert len(memory) == 0 and memory.rows(2)[0].shape == (0, 2)


def run(values, memory: int, tmp_path, trainer: MeanTrainer):
    champion = mean_model(np.zeros(2), np.ones(2), "v0")
    return backtest(champion, values, HISTORY, Policy(every=100, window=300, memory=memory),
                    trainer, tmp_path, need=50)


def test_challengers_train_on_kept_rows_that_left_the_window(tmp_path):
    values = readings(1200, seed=3)
    values[:HISTORY + 200, 0] += 1.0  # an earlier state, gone from the window by row 500
    without, within = MeanTrainer(), MeanTrainer()
    run(values, 0, tmp_path / "none", without)
    result = run(values, 600, tmp_path / "memory", within)
    assert all(len(given) <= 300 - 50 for given in without.given)
    late = [given for c, given in zip(result.cycles, within.given, strict=True)
            if c.row >= HISTORY + 700]  # every row of the earlier state has left the window
    assert late and all(len(given) > 300 for given in late)
    assert all((given[:, 0] > 0.5).mean() > 0.2 for given in late)  # it still learns it
    assert all(len(given) <= 300 - 50 + 600 for given in within.given)


def test_an_incident_leaving_the_window_never_enters_the_memory(tmp_path):
    values = readings(1500, seed=1)
    values[HISTORY + 620:HISTORY + 660] += 6.0  # a fault of 40 readings
    trainer = MeanTrainer()
    result = run(values, 2000, tmp_path, trainer)
    assert result.flags[620:660].all()
    assert max(len(given) for given in trainer.given) > 600  # the memory was trained on
    assert all((given < 4.5).all() for given in trainer.given)
