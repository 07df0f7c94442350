"""`detector train` options that reproduce the SKAB benchmark's Conv-AE (bench/quality/skab.py
--preset conv-ae): `--architecture conv-shared`, `--dropout`, `--calibrate-on training`,
`--learning-rate`, `--batch-size`, `--patience`; the bundle they give is scored by the CLI and
loaded by the daemon."""

import json

import numpy as np
import pandas as pd
import pytest

from detector.core.windows import windows_by_device
from detector.stream.reloader import load_model
from tests.helpers.bundles import TINY, Bundles, assert_train_refuses, run_cli, simulated_csv

WINDOW = 8
SHARED = (*TINY, "--architecture", "conv-shared", "--window", str(WINDOW), "--dropout", "0.2",
          "--calibrate-on", "training", "--learning-rate", "0.001", "--batch-size", "32",
          "--patience", "3")


@pytest.fixture(scope="module")
def shared(trained_bundle: Bundles, tmp_path_factory) -> dict:
    """A conv-shared bundle calibrated in-sample, and labelled simulated data to score."""
    data = tmp_path_factory.mktemp("shared") / "data.csv"
    return {"bundle": trained_bundle(*SHARED), "data": data,
            "frame": simulated_csv(data, count=2000, seed=3)}


def meta_of(bundle) -> dict:
    return json.loads((bundle / "bundle.json").read_text())


def test_the_bundle_records_what_was_asked(shared):
    meta = meta_of(shared["bundle"])
    assert meta["architecture"]["kind"] == "conv-shared"
    assert meta["architecture"]["dropout"] == 0.2
    training = meta["training"]
    assert (training["learning_rate"], training["batch_size"], training["patience"]) == (
        0.001, 32, 3)
    info = run_cli("info", str(shared["bundle"]))
    assert info.exit_code == 0 and "conv-shared" in info.output


def test_calibrating_on_training_uses_every_training_window_and_holds_none_out(shared):
    meta = meta_of(shared["bundle"])
    assert meta["calibration"]["details"]["in_sample"] == 1.0
    assert meta["calibration"]["holdout_size"] == meta["training"]["fit_windows"]
    assert meta["training"]["fit_windows"] == 3000 - 8 * (WINDOW - 1)  # 8 simulated devices


def test_conv_shared_reconstructs_every_channel_by_one_curve(shared, tmp_path):
    out = tmp_path / "scores.csv"
    result = run_cli("score", str(shared["bundle"]), str(shared["data"]), "--out", str(out),
                     "--reconstruction")  # fmt: skip
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out).dropna(subset=["error"])
    scale = meta_of(shared["bundle"])["scale"]
    channels = meta_of(shared["bundle"])["channels"]
    curves = np.column_stack([(scored[f"rec_{c}"] - m) / s for c, m, s
                              in zip(channels, scale["mean"], scale["std"], strict=True)])
    assert np.allclose(curves, curves[:, :1], atol=1e-4)


def test_the_daemon_loads_the_bundle_and_scores_as_the_cli(shared, tmp_path):
    out = tmp_path / "scores.csv"
    assert run_cli("score", str(shared["bundle"]), str(shared["data"]), "--out",
                   str(out)).exit_code == 0  # fmt: skip
    model = load_model(shared["bundle"])
    frame = shared["frame"]
    windows, rows = windows_by_device(frame[model.channels].to_numpy(), WINDOW, frame["device"])
    offline = pd.read_csv(out)["error"].to_numpy()[rows]
    assert np.allclose(model.scorer.score(windows).error, offline, rtol=1e-5)


@pytest.mark.parametrize(("options", "message"), [
    (("--dropout", "0.2"), "conv architectures only"),
    (("--architecture", "conv", "--dropout", "0.95"), "--dropout"),
    (("--calibrate-on", "both"), "both"),
    (("--learning-rate", "0"), "--learning-rate"),
    (("--patience", "0"), "--patience"),
])
def test_bad_values_are_refused_before_any_work(options, message, tmp_path):
    assert_train_refuses(tmp_path / "b", *options, message=message)


def test_gap_power_raises_the_threshold_by_the_recorded_gap(tmp_path):
    out = tmp_path / "b"
    result = run_cli("train", *TINY, "--gap-power", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    calibration = meta_of(out)["calibration"]
    details = calibration["details"]
    assert details["gap"] >= 1 and details["gap_power"] == 2
    assert calibration["threshold"] == pytest.approx(
        details["calibrated_threshold"] * details["gap"] ** 2)
    assert run_cli("train", *TINY, "--gap-power", "5", "--out", str(tmp_path / "c")).exit_code == 2
