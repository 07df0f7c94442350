"""The SKAB benchmarks' `--seed`: it reaches `detector train`'s command line, and without it the
command line is the one the figures in bench/RESULTS.md were measured with (train's own seed, 0).

No TensorFlow: `detector` (the one function that runs the CLI) is replaced by one that records
its arguments and stops the benchmark at the first training.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench.quality import lifecycle, skab, skab_normal


class Trained(Exception):
    """Raised in place of running `detector train`: the benchmark stops there."""


def recording(calls: list[tuple[str, ...]]):
    """A stand-in for skab.detector that records each command line and stops at `train`."""
    def detector(*args: str, env: dict[str, str]) -> None:
        calls.append(args)
        if args[0] == "train":
            raise Trained
    return detector


def normal_run(path: Path, rows: int = 1400) -> Path:
    """A small anomaly-free CSV in SKAB's shape (semicolons, a datetime and two channels)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["datetime;a;b"] + [f"2020-01-01 00:{i // 60:02d}:{i % 60:02d};{i % 7};{i % 5}"
                                for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def train_line(calls: list[tuple[str, ...]]) -> list[str]:
    """The one `detector train` command line recorded."""
    trains = [list(c) for c in calls if c[0] == "train"]
    assert len(trains) == 1
    return trains[0]


def options(line: list[str]) -> list[str]:
    """The train options of a `detector train DATA --out BUNDLE ...` command line."""
    return line[line.index("--out") + 2:]


def expected(seed: str | None) -> list[str]:
    """The default setting's options, and `--seed` last when one is given."""
    return skab.DEFAULT_TRAIN_ARGS.split() + ([] if seed is None else ["--seed", seed])


@pytest.mark.parametrize(("argv", "seed"), [([], None), (["--seed", "2"], "2")])
def test_lifecycle_trains_with_the_seed_given(argv, seed, tmp_path, monkeypatch):
    normal_run(tmp_path / "anomaly-free" / "anomaly-free.csv")
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(lifecycle, "detector", recording(calls))
    monkeypatch.setattr(sys, "argv", ["lifecycle", "--folder", str(tmp_path), "--part", "normal",
                                      *argv])
    with pytest.raises(Trained):
        lifecycle.main()
    assert options(train_line(calls)) == expected(seed)


@pytest.mark.parametrize(("argv", "seed"), [([], None), (["--seed", "1"], "1")])
def test_skab_normal_trains_with_the_seed_given(argv, seed, tmp_path, monkeypatch):
    source = normal_run(tmp_path / "anomaly-free.csv")
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(skab, "detector", recording(calls))
    monkeypatch.setattr(sys, "argv", ["skab_normal", "--source", str(source), "--pieces", "1",
                                      "--settings", "default", "--jobs", "1", *argv])
    with pytest.raises(Trained):
        skab_normal.main()
    assert options(train_line(calls)) == expected(seed)


def test_skab_normal_long_training_trains_with_the_seed_given(tmp_path, monkeypatch):
    source = normal_run(tmp_path / "anomaly-free.csv")
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(skab, "detector", recording(calls))
    with pytest.raises(Trained):
        skab_normal.long_training(source, 400, {}, seed=3)
    assert options(train_line(calls)) == expected("3")
