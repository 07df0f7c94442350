"""`detector train` on data as users bring it, through the real command: labelled anomalies left
out (and said), unlabelled ones fitted robustly (threshold within 2× of clean data's on the
simulator), time-like columns left out unless named, rows put in time order, decimal commas
explained, the channels listed, early stopping reported."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from producer.simulator import Simulator
from tests.helpers.bundles import run_cli

QUICK = ("--epochs", "40", "--seed", "0")


def simulated(path: Path, rate: float, count: int = 12_000, labels: bool = True) -> pd.DataFrame:
    """A CSV of 4 devices' readings (anomalies at `rate`, seed 1), with a label column or not."""
    block = Simulator(devices=4, anomaly_rate=rate, seed=1).block(count // 4)
    frame = pd.DataFrame(block.values, columns=[f"col_{i}" for i in range(1, 6)])
    frame.insert(0, "device", block.device)
    if labels:
        frame["label"] = block.label
    frame.to_csv(path, index=False)
    return frame


def trained(data: Path, out: Path, *options: str) -> tuple[str, dict]:
    """`detector train DATA --out OUT OPTIONS`: what it said, and the bundle's metadata."""
    result = run_cli("train", str(data), "--out", str(out), *QUICK, *options)
    assert result.exit_code == 0, result.output
    return result.output, json.loads((out / "bundle.json").read_text())


def threshold(meta: dict) -> float:
    return meta["calibration"]["threshold"]


@pytest.fixture(scope="module")
def clean_threshold(tmp_path_factory) -> float:
    folder = tmp_path_factory.mktemp("clean")
    simulated(folder / "clean.csv", 0.0)
    return threshold(trained(folder / "clean.csv", folder / "model")[1])


def test_rows_labelled_anomalous_are_left_out_and_counted(tmp_path, clean_threshold):
    frame = simulated(tmp_path / "labelled.csv", 0.002)
    anomalous = int((frame["label"] != "normal").sum())
    assert anomalous > 0.05 * len(frame)
    said, meta = trained(tmp_path / "labelled.csv", tmp_path / "model")
    assert (f"left out {anomalous} of {len(frame)} rows labelled anomalous in column 'label'"
            in said)
    assert "channels (5): col_1, col_2, col_3, col_4, col_5; left out: device (device id); "\
           "label (labels)" in said
    assert clean_threshold / 2 <= threshold(meta) <= 2 * clean_threshold


def test_unlabelled_anomalies_give_a_robust_fit_near_the_clean_threshold(tmp_path,
                                                                         clean_threshold):
    frame = simulated(tmp_path / "with_labels.csv", 0.001)
    share = (frame["label"] != "normal").mean()
    assert 0.01 < share < 0.05  # a few percent of anomalies
    simulated(tmp_path / "unlabelled.csv", 0.001, labels=False)
    said, meta = trained(tmp_path / "unlabelled.csv", tmp_path / "robust")
    assert re.search(r"robust fit: \d+ of \d+ training windows reconstruct far worse", said)
    assert re.search(r"calibration: \d+ of \d+ held-out windows left out", said)
    assert clean_threshold / 2 <= threshold(meta) <= 2 * clean_threshold
    kept = trained(tmp_path / "unlabelled.csv", tmp_path / "naive", "--outliers", "keep")[1]
    assert threshold(kept) > 10 * clean_threshold  # what the rule saves the user from


def test_time_like_columns_are_left_out_unless_named(tmp_path):
    rng = np.random.default_rng(0)
    level = np.sin(np.arange(3000) / 50)
    frame = pd.DataFrame({"time_s": np.arange(3000) * 0.5,
                          "temp": 20 + level + rng.normal(0, .05, 3000),
                          "pressure": 3 - level + rng.normal(0, .05, 3000),
                          "counter": 100 + 7 * np.arange(3000)})
    frame.to_csv(tmp_path / "timed.csv", index=False)
    said, meta = trained(tmp_path / "timed.csv", tmp_path / "model", "--epochs", "5")
    assert meta["channels"] == ["temp", "pressure"]
    assert "time_s (time-like: named like a time" in said
    assert "counter (time-like: rises by a steady 7 a row" in said
    named = trained(tmp_path / "timed.csv", tmp_path / "named", "--epochs", "5",
                    "--columns", "temp,pressure,counter")[1]
    assert named["channels"] == ["temp", "pressure", "counter"]


def test_rows_out_of_time_order_are_sorted_by_their_time_column(tmp_path):
    frame = simulated(tmp_path / "ordered.csv", 0.0, count=4000)
    frame.insert(0, "ts", 1_700_000_000 + np.arange(len(frame)))
    shuffled = frame.sample(frac=1, random_state=0)
    shuffled.to_csv(tmp_path / "shuffled.csv", index=False)
    frame.to_csv(tmp_path / "ordered.csv", index=False)
    said, meta = trained(tmp_path / "shuffled.csv", tmp_path / "a", "--epochs", "5")
    assert "rows sorted by ts: the file was not in time order" in said
    in_order = trained(tmp_path / "ordered.csv", tmp_path / "b", "--epochs", "5")
    assert "rows sorted" not in in_order[0]
    assert threshold(meta) == threshold(in_order[1])  # the same rows, the same model


def test_a_semicolon_file_with_decimal_commas_says_why_it_has_no_channels(tmp_path):
    path = tmp_path / "european.csv"
    path.write_text("datetime;temp;pressure\n" + "".join(
        f"2020-01-01 00:00:{i:02d};21,{i % 10};1,0{i % 7}\n" for i in range(60)))
    result = run_cli("train", str(path), "--out", str(tmp_path / "model"))
    assert result.exit_code == 2
    assert "'temp', 'pressure' hold numbers with decimal commas" in result.output
    assert result.output.strip().count("\n") == 0


def test_training_shows_tensorflow_loading_a_bar_and_an_early_stop(tmp_path):
    simulated(tmp_path / "clean.csv", 0.0, count=4000)
    result = run_cli("train", str(tmp_path / "clean.csv"), "--out", str(tmp_path / "m"),
                     "--epochs", "300", "--patience", "2")
    assert result.exit_code == 0, result.output
    said = result.output
    assert said.index("loading TensorFlow") < said.index("training on")
    assert re.search(r"training: \d+/300 epochs \|.*\| \S+ elapsed, at most \S+ left", said)
    assert re.search(r"stopped early after epoch \d+ of 300: the validation loss has not "
                     r"improved for 2 epochs; kept the weights of epoch \d+", said)
