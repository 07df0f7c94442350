"""`detector retrain` refuses what it cannot retrain with one line and exit 2, before it reads
a reading: a missing bundle, one that records no training settings, a window too short."""

from __future__ import annotations

import json
import shutil

from tests.helpers.bundles import TINY, run_cli


def refuses(*args: str) -> str:
    """The one `error:` line of `detector retrain ARGS` (exit 2), on a broker nobody runs."""
    result = run_cli("retrain", "--bootstrap", "127.0.0.1:1", "--metrics-port", "0",
                     "--metrics-host", "127.0.0.1", *args)
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    return lines[0]


def test_a_window_too_short_to_train_like_the_champion_is_refused(trained_bundle):
    bundle = trained_bundle(*TINY)
    line = refuses("--model", str(bundle), "--retrain-window", "6")
    assert "--retrain-window 6 is too short" in line and "give at least" in line


def test_a_bundle_without_training_settings_is_refused(trained_bundle, tmp_path):
    old = shutil.copytree(trained_bundle(*TINY), tmp_path / "old")
    meta = json.loads((old / "bundle.json").read_text())
    del meta["training_settings"]
    (old / "bundle.json").write_text(json.dumps(meta))
    from detector.core.bundle import restamp

    restamp(old)
    assert "records no training settings" in refuses("--model", str(old))


def test_a_missing_model_directory_is_refused(tmp_path):
    assert "not found" in refuses("--model", str(tmp_path / "none"))
