"""`detector backtest` through the real CLI: a small bundle, a plant that moves to a new level,
challengers trained like the bundle (few epochs), the gate, the output and its bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers.bundles import run_cli, train_bundle

# windows and a persistence rule, as the SKAB setting: a lone noisy reading raises no alarm
TRAIN = ("--window", "5", "--hidden", "5", "--epochs", "10", "--calibration", "quantile",
         "--target-far", "0.01", "--persistence", "3/5", "--seed", "0")


def plant(path: Path, rows: int, start: int, level: float = 0.0, seed: int = 0) -> Path:
    """Three correlated channels around `level`, as a CSV with a time column."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=rows)
    values = np.stack([base, 0.5 * base, -base], axis=1) + 0.2 * rng.normal(size=(rows, 3))
    frame = pd.DataFrame(values + level, columns=["a", "b", "c"])
    frame.insert(0, "t", np.arange(start, start + rows))
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A bundle trained on 400 rows, those rows (history) and 900 later rows: 300 like them,
    then 600 on a new level."""
    root = tmp_path_factory.mktemp("backtest")
    history = plant(root / "history.csv", 400, 0)
    bundle = train_bundle(root / "bundle", str(history), *TRAIN)
    later = pd.concat([pd.read_csv(plant(root / "a.csv", 300, 400, seed=1)),
                       pd.read_csv(plant(root / "b.csv", 600, 700, level=3.0, seed=2))])
    later.to_csv(root / "data.csv", index=False)
    return bundle, history, root / "data.csv"


def backtest(setup: tuple[Path, Path, Path], out: Path, *options: str):
    bundle, history, data = setup
    return run_cli("backtest", str(bundle), str(data), "--history", str(history), "--out",
                   str(out), "--retrain-every", "150", "--retrain-window", "300", *options)


@pytest.fixture(scope="module")
def seeded(setup, tmp_path_factory: pytest.TempPathFactory):
    """One backtest of the setup with --seed 1: its click Result and its scores CSV (the two
    tests below read the same run rather than running it again)."""
    out = tmp_path_factory.mktemp("seeded") / "scores.csv"
    return backtest(setup, out, "--seed", "1"), out


def test_backtest_serves_every_row_and_learns_the_new_level(seeded):
    result, out = seeded
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out)
    assert list(scores.columns) == ["t", "a", "b", "c", "error", "score", "is_anomaly",
                                    "top_channel", "model_version"]
    assert len(scores) == 900 and scores["score"].notna().all()
    assert scores["is_anomaly"].iloc[300:400].mean() > 0.9  # the old model flags the new level
    assert scores["model_version"].iloc[-1] != scores["model_version"].iloc[0]
    assert scores["is_anomaly"].iloc[-150:].mean() < 0.05  # a challenger of the new level serves
    assert scores["is_anomaly"].iloc[:300].mean() < 0.05
    summary = result.output.strip().splitlines()[-1]
    assert summary.startswith("trained ") and "promoted" in summary and "rejected" in summary
    assert "row 150/900:" in result.stderr  # progress, one line a cycle


def test_backtest_is_the_same_for_the_same_seed(setup, seeded, tmp_path):
    first, out = seeded
    assert first.exit_code == 0, first.output
    assert backtest(setup, tmp_path / "again.csv", "--seed", "1").exit_code == 0
    assert (tmp_path / "again.csv").read_bytes() == out.read_bytes()


@pytest.mark.parametrize(("options", "message"), [
    (("--retrain-window", "40"), "--retrain-window 40 is too short"),
    (("--retrain-every", "0"), "--retrain-every"),
    (("--label-column", "nope"), "no label column 'nope'"),
])
def test_bad_options_are_one_line_and_write_nothing(setup, tmp_path, options, message):
    out = tmp_path / "scores.csv"
    result = backtest(setup, out, *options)
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()


def test_bad_inputs_are_one_line_and_write_nothing(setup, tmp_path):
    bundle, history, data = setup
    devices = tmp_path / "devices.csv"
    pd.read_csv(data).assign(device="d1").to_csv(devices, index=False)
    cases = [
        (str(tmp_path / "missing"), str(data), "not found"),
        (str(bundle), str(devices), "device column"),
        (str(bundle), str(history), "also an input"),
    ]
    for model, rows, message in cases:
        out = history if message == "also an input" else tmp_path / "scores.csv"
        result = run_cli("backtest", model, rows, "--history", str(history), "--out", str(out))
        assert result.exit_code == 2 and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "scores.csv").exists()
