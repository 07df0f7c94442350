"""`detector train --slow-channels centre --combine max`: a temperature-like channel that drifts
past its training range raises no alarms, a fault in one fast channel does, `detector score` and
the daemon score alike; bad values exit 2 before any work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector.core.bundle import load_bundle
from detector.core.windows import windows_by_device
from detector.stream.reloader import load_model
from tests.helpers.bundles import TINY, Bundles, assert_train_refuses, run_cli

TRAIN, TEST, WINDOW = 1500, 1500, 10
OPTIONS = ("--window", str(WINDOW), "--hidden", "3", "--activation", "tanh", "--epochs", "40",
           "--calibration", "pot",
           "--target-far", "0.01", "--persistence", "3/5")


def rig(rows: int, start: int, seed: int) -> pd.DataFrame:
    """Two noisy flows that move together, a pressure, and a temperature rising 1 unit per 100
    readings (from reading `start`): 15 units over the training rows, 30 by the end of the test."""
    rng = np.random.default_rng(seed)
    flow = rng.normal(10, 1, rows)
    t = np.arange(start, start + rows)
    return pd.DataFrame({"flow_in": flow, "flow_out": flow + rng.normal(0, 0.3, rows),
                         "pressure": rng.normal(3, 0.5, rows),
                         "temperature": 20 + t / 100 + rng.normal(0, 0.1, rows)})


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """train.csv, the test rows that follow it (test.csv), and the same with a broken flow."""
    root = tmp_path_factory.mktemp("rig")
    paths = {name: root / f"{name}.csv" for name in ("train", "test", "fault")}
    rig(TRAIN, 0, 1).to_csv(paths["train"], index=False)
    test = rig(TEST, TRAIN, 2)
    test.to_csv(paths["test"], index=False)
    test.loc[500:699, "flow_out"] += 4.0  # 4 noise widths, one channel, 200 readings
    test.to_csv(paths["fault"], index=False)
    return paths


@pytest.fixture(scope="module")
def bundles(trained_bundle: Bundles, data) -> dict[str, Path]:
    """The rig's bundle with the slow channel centred and the worst channel's error, and without."""
    base = (str(data["train"]), *OPTIONS)
    return {"centre": trained_bundle(*base, "--slow-channels", "centre", "--combine", "max"),
            "keep": trained_bundle(*base)}


def scored(bundle: Path, data: dict[str, Path], name: str, tmp_path: Path) -> pd.DataFrame:
    """`detector score BUNDLE NAME.csv --history train.csv`: every row scored."""
    out = tmp_path / f"{name}-scores.csv"
    result = run_cli("score", str(bundle), str(data[name]), "--history", str(data["train"]),
                     "--out", str(out))
    assert result.exit_code == 0, result.output
    return pd.read_csv(out)


def test_the_bundle_records_the_slow_channel_and_the_combination_and_info_shows_them(bundles):
    meta = load_bundle(bundles["centre"]).meta
    assert meta["centred"] == ["temperature"] and meta["combine"] == "max"
    assert "centred" not in load_bundle(bundles["keep"]).meta
    info = run_cli("info", str(bundles["centre"]))
    assert info.exit_code == 0 and "centred      temperature" in info.output
    assert "the max over channels" in info.output


def test_a_temperature_past_its_training_range_raises_no_alarm_once_centred(
        bundles, data, tmp_path):
    centred = scored(bundles["centre"], data, "test", tmp_path)
    kept = scored(bundles["keep"], data, "test", tmp_path)
    assert centred["is_anomaly"].mean() < 0.02
    assert kept["is_anomaly"].iloc[-500:].mean() > 0.9  # the level model: all new to it


def test_a_fault_in_one_fast_channel_is_flagged(bundles, data, tmp_path):
    flags = scored(bundles["centre"], data, "fault", tmp_path)["is_anomaly"]
    assert flags.iloc[500:700].mean() > 0.9
    assert flags.iloc[:500].mean() < 0.02 and flags.iloc[720:].mean() < 0.02


def test_the_daemon_s_scorer_gives_detector_score_s_errors(bundles, data, tmp_path):
    bundle = load_bundle(bundles["centre"])
    history, test = (pd.read_csv(data[n])[bundle.channels] for n in ("train", "fault"))
    values = pd.concat([history.iloc[-(WINDOW - 1):], test]).to_numpy()
    served = load_model(bundles["centre"]).scorer.score(windows_by_device(values, WINDOW)[0])
    offline = scored(bundles["centre"], data, "fault", tmp_path)
    np.testing.assert_allclose(served.error, offline["error"], rtol=1e-9)


@pytest.mark.parametrize(("options", "message"), [
    (("--slow-channels", "centre"), "--slow-channels centre needs windows"),
    (("--slow-channels", "centred"), "'centred' is not one of 'keep', 'centre'"),
    (("--combine", "sum"), "'sum' is not one of 'mean', 'max'"),
])
def test_bad_values_are_refused_before_any_work(options, message, tmp_path):
    assert_train_refuses(tmp_path / "b", *options, message=message)


def test_tiny_data_trains_with_both_options(trained_bundle):
    meta = load_bundle(trained_bundle(*TINY, "--window", "3", "--slow-channels", "centre",
                                      "--combine", "max")).meta
    assert meta["combine"] == "max" and set(meta.get("centred", [])) <= set(meta["channels"])
