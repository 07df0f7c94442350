"""`detector evaluate` as a user reads it: the threshold and the alarm rule it used, each figure
with its unit, `undefined` where a figure has nothing to count, and quiet in a closed pipe."""

import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from tests.helpers import REPO
from tests.helpers.bundles import TINY, run_cli, simulated_csv

FRACTIONS = ("precision", "recall", "f1")
PERCENTS = ("far", "mar")


@pytest.fixture(scope="module")
def bundle(trained_bundle):
    return trained_bundle(*TINY)


def figures(output: str) -> dict[str, str]:
    """name → the value column of each figure line."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"^(\w[\w ]*?)\s{2,}(undefined|[\d.]+(?: %)?)\s{2,}\((.+)\)$", line)
        if match:
            found[match[1]] = match[2]
    return found


def test_evaluate_states_threshold_rule_and_the_unit_of_each_figure(bundle, tmp_path):
    data = tmp_path / "data.csv"
    simulated_csv(data, count=2000)
    result = run_cli("evaluate", str(bundle), str(data), "--no-plots")
    assert result.exit_code == 0, result.output
    threshold = __import__("json").loads((bundle / "bundle.json").read_text())["calibration"]
    assert f"threshold: {threshold['threshold']:.6g} (the bundle's: pot" in result.stdout
    assert "alarm rule: a row is flagged when its error is above the threshold" in result.stdout
    shown = figures(result.stdout)
    for name in FRACTIONS:
        assert re.fullmatch(r"[01]\.\d{4}", shown[name]), (name, shown[name])
    for name in PERCENTS:
        assert shown[name].endswith(" %") and 0 <= float(shown[name][:-2]) <= 100
    assert "recall spike" in shown


def test_figures_with_nothing_to_count_say_undefined_not_zero(bundle, tmp_path):
    data = tmp_path / "data.csv"
    simulated_csv(data, count=2000)
    result = run_cli("evaluate", str(bundle), str(data), "--no-plots", "--threshold", "1e9",
                     "--persistence", "2/3")
    assert result.exit_code == 0, result.output
    shown = figures(result.stdout)
    assert shown["precision"] == "undefined" and "(nothing was flagged)" in result.stdout
    assert shown["recall"] == "0.0000" and shown["mar"] == "100.000 %"
    assert "threshold: 1e+09 (from --threshold)" in result.stdout
    assert "2 of its device's last 3 rows" in result.stdout


def closed_pipe_run(*args: str) -> subprocess.CompletedProcess:
    """`python -m ARGS` with stdout a pipe whose reader has already gone."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", *args], cwd=REPO, stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=600, check=False)
    finally:
        os.close(write)


def test_commands_that_print_stop_quietly_when_the_reader_goes(bundle, tmp_path):
    data = tmp_path / "data.csv"
    simulated_csv(data, count=1000)
    for args in (("detector", "evaluate", str(bundle), str(data), "--no-plots"),
                 ("detector", "info", str(bundle)), ("detector", "--help"),
                 ("producer", "seed-data", "--output", str(tmp_path / "seed.csv"))):
        result = closed_pipe_run(*args)
        assert "Broken pipe" not in result.stderr and "Traceback" not in result.stderr, args
        assert result.returncode != 2, (args, result.stderr)


def test_plots_of_a_csv_with_a_time_column_are_written(bundle, tmp_path):
    data = tmp_path / "timed.csv"
    frame = simulated_csv(data, count=800)
    frame.insert(0, "datetime", pd.date_range("2020-03-09 10:00", periods=len(frame), freq="s")
                 .strftime("%Y-%m-%d %H:%M:%S"))
    frame.to_csv(data, index=False)
    plots = tmp_path / "plots"
    result = run_cli("evaluate", str(bundle), str(data), "--plots", str(plots))
    assert result.exit_code == 0, result.output
    assert {p.name for p in plots.iterdir()} == {"errors.png", "timeline.png", "loss.png"}
    assert all(p.stat().st_size > 10_000 for p in plots.iterdir())
