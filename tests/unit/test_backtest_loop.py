"""The backtest loop with a trainer that needs no TensorFlow: a model of the training rows' mean
and scale (every reading reconstructed as the mean), scored by the project's own Scorer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detector.core.bundle import Bundle
from detector.lifecycle.backtest import Policy, backtest

HISTORY = 400
THRESHOLD = 6.0  # a normal reading's error (mean squared z of 2 channels) passes it 0.25 % of times


def mean_model(mean: np.ndarray, std: np.ndarray, version: str) -> Bundle:
    """A dense bundle (window 1) that reconstructs every reading as `mean`."""
    meta = {"version": version, "channels": ["x", "y"], "window": 1,
            "architecture": {"kind": "dense", "activation": "linear"},
            "calibration": {"threshold": THRESHOLD, "target_far": 0.01},
            "scale": {"std": std.tolist()}, "persistence": {"k": 1, "n": 1}}
    arrays = {"mean": mean, "std": std, "kernel_0": np.zeros((2, 2)), "bias_0": np.zeros(2)}
    return Bundle(Path(version), meta, arrays)


class MeanTrainer:
    """Fits the mean and scale of the rows it is given, and remembers them."""

    def __init__(self) -> None:
        self.given: list[np.ndarray] = []

    def __call__(self, values: np.ndarray, segments: np.ndarray, out: Path) -> Bundle:
        self.given.append(values)
        return mean_model(values.mean(axis=0), values.std(axis=0), f"v{len(self.given)}")


def readings(rows: int, seed: int = 0) -> np.ndarray:
    """History and data rows of normal operation (two independent standard normal channels)."""
    return np.random.default_rng(seed).normal(size=(HISTORY + rows, 2))


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
