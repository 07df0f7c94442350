"""`detector train --headroom drift --horizon H`: a probe on the oldest half of the data sets the
growth exponent; the bundle records the headroom and its figures; bad combinations exit 2."""

import json

import pytest

from tests.helpers.bundles import TINY, Bundles, assert_train_refuses, run_cli

DRIFT = (*TINY, "--window", "4", "--headroom", "drift", "--horizon", "2")


@pytest.fixture(scope="module")
def drift(trained_bundle: Bundles):
    """A windowed bundle with a drift headroom, and the same without one."""
    return trained_bundle(*DRIFT), trained_bundle(*TINY, "--window", "4")


def test_the_threshold_is_the_calibrated_one_times_the_recorded_headroom(drift):
    with_room, without = (json.loads((b / "bundle.json").read_text()) for b in drift)
    details = with_room["calibration"]["details"]
    assert 0 <= details["drift_exponent"] <= 2 and details["headroom"] >= 1
    assert details["drift_distance"] == 900 + 2 * 3000 / 2  # held-out rows + half the horizon
    assert with_room["calibration"]["threshold"] == pytest.approx(
        details["calibrated_threshold"] * details["headroom"])
    assert details["calibrated_threshold"] == pytest.approx(
        without["calibration"]["threshold"])  # the probe trains after: the same model
    assert with_room["training"]["horizon"] == 2
    info = run_cli("info", str(drift[0]))
    assert info.exit_code == 0 and f"drift headroom x{details['headroom']:.3g}" in info.output


@pytest.mark.parametrize(("options", "message"), [
    (("--headroom", "drift", "--gap-power", "2"), "give one of them"),
    (("--headroom", "drift", "--calibrate-on", "training"), "held-out"),
    (("--horizon", "2"), "--headroom drift only"),
    (("--headroom", "drift", "--horizon", "0"), "--horizon"),
    (("--headroom", "up"), "--headroom"),
])
def test_bad_headroom_options_are_refused_before_any_work(options, message, tmp_path):
    assert_train_refuses(tmp_path / "b", *options, message=message)


def test_too_few_rows_for_the_probe_are_refused(tmp_path):
    out = tmp_path / "b"
    result = run_cli("train", "--simulate", "100", "--window", "4", "--holdout", "0.4",
                     "--headroom", "drift", "--out", str(out))  # fmt: skip
    assert result.exit_code == 2 and "too few" in result.output
    assert not out.exists()
