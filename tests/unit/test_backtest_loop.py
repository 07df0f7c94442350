"""The backtest loop with a trainer that needs no TensorFlow: a model of the training rows' mean
and scale (every reading reconstructed as the mean), scored by the project's own Scorer. Devices
apart: the rows a step scores and trains on are each device's own (a window never spans two
devices; each device's newest rows judge the challenger); the readings the serving replicas
flagged are incidents to the cleaning rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detector.core.alarm import AlarmRule
from detector.core.bundle import Bundle
from detector.core.scoring import Scorer
from detector.errors import DataError
from detector.lifecycle.backtest import Policy, backtest, cycle
from detector.lifecycle.rows import grouped, newest_rows, rows_of
from tests.helpers.lifecycle import HISTORY, THRESHOLD, MeanTrainer, mean_model, readings


def run(values: np.ndarray, trainer: MeanTrainer, tmp_path: Path, labels=None):
    champion = mean_model(np.zeros(2), np.ones(2), "v0")
    return backtest(champion, values, HISTORY, Policy(every=100, window=300), trainer, tmp_path,
                    labels=labels, need=50)


def test_a_new_normal_is_learnt_and_served(tmp_path):
    values = readings(2000)
    values[HISTORY + 500:] += 4.0  # the plant moves to another level and stays there
    trainer = MeanTrainer()
    result = run(values, trainer, tmp_path)
    assert result.flags[500:600].mean() > 0.9  # the champion flags the move ...
    assert result.flags[-500:].mean() < 0.02  # ... until a challenger of the new level serves
    assert ("promoted", "champion-stale") in result.counts()
    assert result.versions[0] == "v0" and result.versions[-1] != "v0"
    assert len(result.versions) == len(result.flags) == 2000


def test_a_short_incident_is_never_trained_on_and_stays_flagged(tmp_path):
    values = readings(1500, seed=1)
    values[HISTORY + 620:HISTORY + 660] += 6.0  # a fault of 40 readings
    trainer = MeanTrainer()
    result = run(values, trainer, tmp_path)
    assert result.flags[620:660].all()
    assert trainer.given and all((given < 4.5).all() for given in trainer.given)
    seen = [c for c in result.cycles if 660 <= c.row - HISTORY <= 660 + 300 - 1]
    assert seen and all(c.cleaning.left_out["incident"] >= 40 for c in seen)


def test_labelled_rows_are_never_trained_on(tmp_path):
    values = readings(800, seed=2)
    values[HISTORY + 300:HISTORY + 320] += 2.0  # too small for the champion to flag
    labels = np.zeros(len(values), dtype=bool)
    labels[HISTORY + 300:HISTORY + 320] = True
    trainer = MeanTrainer()
    run(values, trainer, tmp_path, labels=labels)
    marked = values[HISTORY + 300:HISTORY + 320]
    assert not any(np.isin(given, marked).any() for given in trainer.given)


def test_the_same_rows_give_the_same_result(tmp_path):
    values = readings(1200, seed=3)
    values[HISTORY + 400:] += 3.0
    first, second = (run(values, MeanTrainer(), tmp_path / name) for name in ("a", "b"))
    assert np.array_equal(first.flags, second.flags)
    assert np.array_equal(first.versions, second.versions)
    assert first.counts() == second.counts()


DEVICES = np.array(["a", "b", "c"] * 4 + ["a"])  # a: rows 0 3 6 9 12; b: 1 4 7 10; c: 2 5 8 11


def test_each_devices_newest_rows_and_their_context_are_picked():
    rows, scored = rows_of(DEVICES, 0, 13, back=1, window=2)
    assert rows[scored].tolist() == [7, 8, 9, 10, 11, 12]  # b's 7 10, c's 8 11, a's 9 12
    assert rows[~scored].tolist() == [4, 5, 6]  # one row of context for each
    rows, scored = rows_of(DEVICES, 9, 12, back=2)
    assert rows[scored].tolist() == [9, 10, 11] and rows[~scored].tolist() == [3, 4, 5, 6, 7, 8]
    assert rows_of(None, 9, 12, back=2)[0].tolist() == [7, 8, 9, 10, 11]


def test_the_newest_rows_are_each_devices_and_grouping_keeps_arrival_order():
    assert np.flatnonzero(newest_rows(13, 1, DEVICES)).tolist() == [10, 11, 12]
    assert np.flatnonzero(newest_rows(13, 2, None)).tolist() == [11, 12]
    assert grouped(DEVICES, 13).tolist() == [0, 3, 6, 9, 12, 1, 4, 7, 10, 2, 5, 8, 11]


def interleaved(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two devices' normal readings interleaved, a near 0 and b near 10 (the champion's level)."""
    values = np.random.default_rng(seed).normal(size=(2 * rows, 2))
    devices = np.array(["a", "b"] * rows)
    values[devices == "b"] += 10.0
    return values, devices


def test_a_cycle_trains_on_segments_of_one_device_and_judges_each_devices_newest_rows(tmp_path):
    values, devices = interleaved(300)
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    trainer = MeanTrainer()

    def recording(rows: np.ndarray, segments: np.ndarray, out):
        seen.append((rows, segments))
        return trainer(rows, segments, out)

    champion = mean_model(np.full(2, 5.0), np.full(2, 3.0), "v0")
    done, _ = cycle(champion, values, None, len(values), Policy(every=100, window=240),
                    recording, tmp_path, need=50, devices=devices)
    [(rows, segments)] = seen
    assert len(rows) == 2 * (240 - 40)  # each device's newest 240 but its newest 40 (the sixth)
    for segment in np.unique(segments):  # every segment one device's: a's near 0, b's near 10
        level = rows[segments == segment].mean(axis=1)
        assert (level < 5).all() or (level > 5).all()
    assert done.cleaning is not None and len(done.cleaning.keep) == 480


def test_readings_the_replicas_flagged_are_left_out_when_their_rise_is_sharp(tmp_path):
    values = np.random.default_rng(3).normal(size=(300, 2))
    values[100:140] += 1.8  # an incident the champion barely flags, the replicas did
    served = np.zeros(300, dtype=bool)
    served[100:140] = True
    champion = mean_model(np.zeros(2), np.ones(2), "v0")
    given = {}
    for name, flags in (("own", None), ("served", served)):
        trainer = MeanTrainer()
        done, _ = cycle(champion, values, None, 300, Policy(every=100, window=300), trainer,
                        tmp_path / name, need=50, served=flags)
        given[name] = trainer.given[0]
        assert done.cleaning is not None
    incident = values[100:140]
    assert np.isin(given["own"], incident).all(axis=1).sum() > 10  # trained on without them
    assert not np.isin(given["served"], incident).all(axis=1).any()


def test_interleaved_devices_retrain_every_n_rows_of_each_device(tmp_path):
    values, devices = interleaved(HISTORY + 600)
    champion = mean_model(np.full(2, 5.0), np.full(2, 3.0), "v0")
    result = backtest(champion, values, 2 * HISTORY, Policy(every=100, window=300),
                      MeanTrainer(), tmp_path, need=50, devices=devices)
    assert [c.row - 2 * HISTORY for c in result.cycles] == [200, 400, 600, 800, 1000]
    assert all(len(c.cleaning.keep) == 600 for c in result.cycles)  # 300 rows of each device
    assert len(result.flags) == 1200 and np.isfinite(result.score).all()


def refuse(values: np.ndarray, segments: np.ndarray, out: Path):
    """A trainer that never trains: the champion serves every block."""
    raise DataError("no challenger in this test")


def test_a_follow_rule_s_history_reaches_back_across_blocks_as_over_the_whole_rows(tmp_path):
    champion = mean_model(np.zeros(2), np.ones(2), "v0")
    meta = {**champion.meta, "persistence": {"k": 2, "n": 3}, "threshold_follow": {
        "lag": 60, "rows": 40, "median": 1.4, "calibrated_threshold": 4.0}}
    champion = Bundle(champion.path, meta, champion.arrays)
    values = readings(1500, seed=4) * np.linspace(1.0, 3.0, HISTORY + 1500)[:, None]
    devices = np.array(["a", "b", "c"])[np.arange(len(values)) % 3]
    result = backtest(champion, values, HISTORY, Policy(every=100, window=300), refuse, tmp_path,
                      need=1, devices=devices)
    error = Scorer(champion).score(values).error
    rule = AlarmRule.of(champion.meta)
    whole = rule.flag_rows(error / THRESHOLD, np.ones(len(values), bool), devices, error)
    assert np.array_equal(result.flags, whole[HISTORY:])
    fixed = AlarmRule(rule.persistence).flag_rows(error / THRESHOLD, np.ones(len(values), bool),
                                                  devices)
    assert 0 < result.flags.sum() < fixed[HISTORY:].sum() / 2  # the drift: fewer alarms
