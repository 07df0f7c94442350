"""Model bundles and data for the tests (and the benchmarks), made and used with the project's
own CLI.

`train_bundle` runs `detector train` as a user types it; `Bundles` (the session fixture
`trained_bundle`) trains once per session for each set of options, so that fixtures asking for
the same bundle share it and those that need another (windows, more rows, another calibration)
say so in their options. `offline_flags` is what `detector score` flags in given readings.
"""

from __future__ import annotations

import csv
import json
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from detector.cli import main
from producer.simulator import Simulator
from tests.helpers import REPO

# Small and quick (10,000 rows, 10 epochs): good enough to flag every spike and correlation break.
SERVE = ("--simulate", "10000", "--epochs", "10", "--seed", "0")
# The least that trains at all, for tests of the CLI's behaviour rather than of the model.
TINY = ("--simulate", "3000", "--epochs", "5")


def train_bundle(out: Path, *options: str) -> Path:
    """`detector train OPTIONS --out OUT`, in this process (TensorFlow is imported once, not once
    a bundle: the tests of the command as a process of its own are in test_bad_input_train.py);
    OUT. Fails with its output."""
    result = run_cli("train", *options, "--out", str(out))
    if result.exit_code != 0:
        raise AssertionError(f"failed: detector train {shlex.join([*options, '--out', str(out)])}"
                             f"\n{result.output[-3000:]}")
    return out


def train_bundles(jobs: Sequence[tuple[Path, Sequence[str]]], at_once: int = 2) -> list[Path]:
    """`detector train OPTIONS --out OUT` for each (OUT, OPTIONS), `at_once` processes at a time
    (a training keeps about one core busy; CI has two); the OUTs. Fails with the stderr of the
    first that fails."""
    waiting, running = list(jobs), []
    while waiting or running:
        while waiting and len(running) < at_once:
            out, options = waiting.pop(0)
            command = [sys.executable, "-m", "detector", "train", *options, "--out", str(out)]
            log = out.with_name(f"{out.name}.stderr")
            with log.open("w") as stderr:
                running.append((command, log, subprocess.Popen(
                    command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr)))
        command, log, process = running.pop(0)
        if process.wait(timeout=1800) != 0:
            for _, _, other in running:
                other.kill()
            raise AssertionError(f"failed: {shlex.join(command)}\n{log.read_text()[-3000:]}")
    return [out for out, _ in jobs]


class Bundles:
    """bundles(*options) -> a bundle trained with those options, once for each set of options;
    bundles.many(options, ...) trains those not made yet side by side (train_bundles)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: dict[tuple[str, ...], Path] = {}

    def __call__(self, *options: str) -> Path:
        if options not in self.made:
            self.made[options] = train_bundle(self.root / f"bundle-{len(self.made)}", *options)
        return self.made[options]

    def many(self, *option_sets: Sequence[str]) -> list[Path]:
        """The bundle of each set of options, those not made yet trained side by side."""
        new = list(dict.fromkeys(o for o in map(tuple, option_sets) if o not in self.made))
        outs = [self.root / f"bundle-{len(self.made) + i}" for i in range(len(new))]
        self.made.update(zip(new, train_bundles(list(zip(outs, new, strict=True))), strict=True))
        return [self.made[tuple(options)] for options in option_sets]


def run_cli(*args: str) -> Result:
    """Run `detector ARGS` in-process; the click Result (exit_code, output, stderr)."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def assert_train_refuses(out: Path, *options: str, message: str) -> None:
    """`detector train TINY OPTIONS --out OUT` exits 2 naming `message` and writes nothing."""
    result = run_cli("train", *TINY, *options, "--out", str(out))
    assert result.exit_code == 2 and message in result.output, result.output
    assert not out.exists()


def simulated_csv(path: Path, count: int = 5000, seed: int = 1) -> pd.DataFrame:
    """A CSV of simulated readings of 4 devices with anomalies and a label column; its frame."""
    block = Simulator(devices=4, anomaly_rate=0.01, seed=seed).block(count // 4)
    frame = pd.DataFrame(block.values, columns=[f"col_{i}" for i in range(1, 6)])
    frame.insert(0, "device", block.device)
    frame["label"] = block.label
    frame.to_csv(path, index=False)
    return frame


def offline_flags(bundle: Path, readings: list[dict], tmp_path: Path) -> dict[tuple, float]:
    """(device, seq) → score of every reading `detector score` flags in the same readings."""
    source, scored = tmp_path / "readings.csv", tmp_path / "scored.csv"
    channels = json.loads((bundle / "bundle.json").read_text())["channels"]
    with source.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["ts", "device", "seq", *channels])
        for r in readings:
            out.writerow([r["ts"], r["device"], r["seq"], *r["values"]])
    result = subprocess.run(
        [sys.executable, "-m", "detector", "score", str(bundle), str(source), "--out",
         str(scored)], cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    with scored.open() as f:
        return {(row["device"], int(row["seq"])): float(row["score"])
                for row in csv.DictReader(f) if row["is_anomaly"] == "1"}


def assert_same_alarms(bundle: Path, readings: list[dict], events_of: Callable[[int], list],
                       tmp_path: Path) -> None:
    """The events online (`events_of(n)`: the anomaly topic's records, at least n) flag the
    readings `detector score` flags offline, with the same scores; duplicates collapse."""
    expected = offline_flags(bundle, readings, tmp_path)
    events = [json.loads(r.value) for r in events_of(len(expected))]
    online = {(e["device"], e["seq"]): e["score"] for e in events}
    assert expected, "the simulated anomalies should raise alarms"
    assert online.keys() == expected.keys()
    for key, score in online.items():
        assert score == pytest.approx(expected[key], rel=1e-6), key


def confusion_counts(evaluate_output: str) -> dict[str, int]:
    """The tp, fp, fn and tn counts from what `detector evaluate` prints (`name  N  (meaning)`)."""
    counts = {}
    for line in evaluate_output.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in ("tp", "fp", "fn", "tn"):
            counts[words[0]] = int(words[1])
    assert set(counts) == {"tp", "fp", "fn", "tn"}, evaluate_output
    return counts
