"""The model lifecycle on SKAB: `detector backtest` against the same bundle without retraining.

    nice -n 15 .venv/bin/python -m bench.quality.lifecycle [--part normal,valves] [--jobs 1]
        [--labels hidden,given] [--backtest-args "..."] [--cycles DIR] [--seed N]

Per file, bench/quality/skab.py's protocol: `detector train` on the first 400 rows with its
default setting (and `--seed N`, which the challengers inherit); then, in the same run, `detector
score` on the rest (`--history` the 400 rows: no retraining, the baseline) and `detector
backtest` on the rest (the default policy, or `--backtest-args`). `normal`: the anomaly-free run
(9,005 rows after training): the false-alarm rate of both, for the whole run and each 1,000
rows, and the backtest's wall time. `valves`: every labelled file under --folder (valve1's 16
and valve2's 4; on SKAB's full `data/` folder `other`'s 14 too), F1 / FAR / MAR summed over
files, a column per folder found and one for all: with the label columns removed before the
backtest (`hidden`: only the cleaning rule's own judgement keeps the fault out of training) and
as given (`given`: labelled rows are never trained on).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.common import table
from bench.quality.folders import by_folders, listed
from bench.quality.skab import (
    DEFAULT_FOLDER,
    DEFAULT_TRAIN_ARGS,
    TRAIN_ROWS,
    detector,
    labelled_files,
    one_thread_each,
    split_file,
    with_seed,
)
from detector.offline.evaluate import Quality, quality
from shared.tables import read_csv

LABELS = ("anomaly", "changepoint")


def without_labels(path: Path, out: Path) -> Path:
    """The CSV without its label columns (what a plant without labels sends)."""
    frame = read_csv(path)
    frame.drop(columns=[c for c in LABELS if c in frame.columns]).to_csv(out, sep=";", index=False)
    return out


def backtest(bundle: Path, test: Path, train: Path, out: Path, args: list[str],
             env: dict[str, str], log: Path | None = None) -> tuple[pd.DataFrame, float, str]:
    """`detector backtest`: its scores, wall time and the summary line of its cycles (with
    `log`, its cycle lines written there)."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "detector", "backtest", str(bundle), str(test),
                           "--history", str(train), "--out", str(out), *args],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"failed: detector backtest {test}\n{done.stderr.strip()[-2000:]}")
    if log is not None:
        log.write_text(done.stderr + done.stdout, encoding="utf-8")
    lines = done.stdout.strip().splitlines()
    summary = lines[-1] + (f" [{lines[-2].split(', flagged')[0]}]" if len(lines) > 1 else "")
    return read_csv(out), time.monotonic() - started, summary


def train_options(seed: int | None = None) -> str:
    """The default setting's `detector train` options, with `--seed` when one is given."""
    return with_seed(DEFAULT_TRAIN_ARGS, seed)


def one_file(path: Path, args: list[str], labels: list[str], env: dict[str, str],
             cycles: Path | None = None, options: str = DEFAULT_TRAIN_ARGS) -> dict:
    """Train on the first 400 rows; the flags without retraining and with each label mode (with
    `cycles`, each backtest's cycle lines in a file there)."""
    with tempfile.TemporaryDirectory(prefix="lifecycle-") as tmp:
        work = Path(tmp)
        train, test = split_file(path, work, TRAIN_ROWS)
        bundle = work / "bundle"
        detector("train", str(train), "--out", str(bundle), *shlex.split(options),
                 env=env)
        detector("score", str(bundle), str(test), "--history", str(train), "--out",
                 str(work / "plain.csv"), env=env)
        frame = read_csv(work / "plain.csv")
        truth = (frame["anomaly"].to_numpy() > 0 if "anomaly" in frame.columns
                 else np.zeros(len(frame), dtype=bool))
        found = {"name": path, "truth": truth, "plain": frame["is_anomaly"].to_numpy() > 0}
        for mode in labels:
            given = test if mode == "given" else without_labels(test, work / "hidden.csv")
            out = work / f"{mode}-out.csv"
            log = None if cycles is None else cycles / f"{path.parent.name}-{path.stem}-{mode}.log"
            scores, seconds, summary = backtest(bundle, given, train, out, args, env, log)
            found[mode] = scores["is_anomaly"].to_numpy() > 0
            found[f"{mode} seconds"], found[f"{mode} summary"] = seconds, summary
            found[f"{mode} versions"] = scores["model_version"].nunique()
    return found


def cell(q: Quality) -> str:
    """F1 / FAR / MAR."""
    return f"{q.f1:.2f} / {q.far:.2f} / {q.mar:.2f}"


def summed(results: list[dict], key: str) -> Quality:
    """Counts summed over files."""
    total = Quality(0, 0, 0, 0)
    for r in results:
        total = total + quality(r["truth"], r[key])
    return total


def normal_part(source: Path, args: list[str], env: dict[str, str],
                cycles: Path | None = None, options: str = DEFAULT_TRAIN_ARGS) -> None:
    """The anomaly-free run: FAR without and with the lifecycle, per 1,000 rows, wall time."""
    with tempfile.TemporaryDirectory(prefix="lifecycle-normal-") as tmp:
        run = Path(tmp) / "anomaly-free.csv"
        run.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
        r = one_file(run, args, ["hidden"], env, cycles, options)
    rows = [(name, f"{100 * r[key].mean():.2f}",
             ", ".join(f"{100 * r[key][i:i + 1000].mean():.1f}"
                       for i in range(0, len(r[key]), 1000)))
            for name, key in (("without retraining", "plain"), ("detector backtest", "hidden"))]
    print(f"\nanomaly-free run: {len(r['plain'])} rows after the {TRAIN_ROWS} trained on\n")
    print(table(rows, ("", "FAR, %", "FAR of each 1,000 rows, %")))
    print(f"\nbacktest: {r['hidden seconds']:.0f} s wall, {r['hidden versions']} versions served; "
          f"{r['hidden summary']}\n", flush=True)


def labelled_table(results: list[dict], folder: Path, labels: list[str]) -> str:
    """F1 / FAR / MAR summed over the files of each folder found and over all: a column each."""
    groups = by_folders(results, lambda r: r["name"].relative_to(folder))
    rows = []
    for name, key in (("without retraining", "plain"),
                      *((f"detector backtest, labels {m}", m) for m in labels)):
        rows.append((name, *(cell(summed(mine, key)) for mine in groups.values()),
                     cell(summed(results, key))))
    header = ("", *(f"{sub} ({len(mine)})" for sub, mine in groups.items()), f"all {len(results)}")
    return (f"\n{len(results)} files of {listed(list(groups))}, F1 / FAR % / MAR % summed over "
            f"files\n\n{table(rows, header)}")


def labelled_part(folder: Path, args: list[str], labels: list[str], jobs: int,
                  env: dict[str, str], cycles: Path | None = None,
                  options: str = DEFAULT_TRAIN_ARGS) -> None:
    """Every labelled file under folder (valve1, valve2, and other on SKAB's full data): F1 / FAR
    / MAR without retraining and with the lifecycle, per folder."""
    files = labelled_files(folder)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(lambda f: one_file(f, args, labels, env, cycles, options), files))
    print(labelled_table(results, folder, labels))
    for mode in labels:
        promoted = sum(r[f"{mode} versions"] - 1 for r in results)
        seconds = sum(r[f"{mode} seconds"] for r in results)
        print(f"\nlabels {mode}: {promoted} promotions over the files, backtests {seconds:.0f} s "
              "in all; per file:")
        for r in results:
            print(f"  {r['name'].parent.name}/{r['name'].name}: {r[f'{mode} summary']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--part", default="normal,valves")
    parser.add_argument("--labels", default="hidden,given")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--backtest-args", default="", help="detector backtest options")
    parser.add_argument("--cycles", type=Path, help="a folder for each backtest's cycle lines")
    parser.add_argument("--seed", type=int, help="detector train --seed (default: train's own, 0)")
    args = parser.parse_args()
    env, extra = one_thread_each(), shlex.split(args.backtest_args)
    parts, options = args.part.split(","), train_options(args.seed)
    print(f"train: {options}; backtest: {args.backtest_args or 'the default policy'}",
          flush=True)
    if "normal" in parts:
        normal_part(args.folder / "anomaly-free" / "anomaly-free.csv", extra, env, args.cycles,
                    options)
    if "valves" in parts:
        labelled_part(args.folder, extra, args.labels.split(","), args.jobs, env, args.cycles,
                      options)
    print(f"command: nice -n 15 .venv/bin/python -m bench.quality.lifecycle --part {args.part} "
          f"--labels {args.labels} --jobs {args.jobs}"
          + ("" if args.folder == DEFAULT_FOLDER else f" --folder {shlex.quote(str(args.folder))}")
          + ("" if args.seed is None else f" --seed {args.seed}")
          + (f" --backtest-args {shlex.quote(args.backtest_args)}" if args.backtest_args else ""))


if __name__ == "__main__":
    main()
