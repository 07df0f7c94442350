"""Research: threshold rules that use only each file's own training rows, on SKAB (valve1, valve2).

    .venv/bin/python -m bench.skab_rules [FOLDER] [--train-args "..."] [--cache FILE.npz]

Trains each file's bundle on its first 400 rows with `detector train` run in this process (so
TensorFlow is imported once), keeps the errors of the
fitting windows, of the held-out windows and of every later row, then prints F1 / FAR / MAR per
folder for several label-free rules (each picks the threshold from the training rows' errors
alone). The chosen rule is then measured through the CLI by bench/skab.py.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import table
from bench.skab import DEFAULT_FOLDER, DEFAULT_TRAIN_ARGS, TRAIN_ROWS, labelled_files
from detector.core.alarm import parse_persistence, persist
from detector.core.bundle import load_bundle
from detector.core.scoring import Scorer
from detector.core.windows import windows_by_device
from detector.offline.evaluate import Quality, quality
from detector.offline.train import split_rows
from shared.tables import read_csv


def train_file(path: Path, args: list[str], tmp: Path) -> dict[str, np.ndarray]:
    """One file's errors: fitting windows, held-out windows, every row (NaN before a window)."""
    from click.testing import CliRunner

    from detector.cli import main

    frame = read_csv(path)
    channels = [c for c in frame.columns if c not in ("datetime", "anomaly", "changepoint")]
    train = tmp / "train.csv"
    frame.iloc[:TRAIN_ROWS].to_csv(train, index=False)
    result = CliRunner().invoke(main, ["train", str(train), "--out", str(tmp / "b"), *args])
    if result.exit_code:
        sys.exit(result.output)
    bundle = load_bundle(tmp / "b")
    scorer = Scorer(bundle)
    values = frame[channels].to_numpy(dtype=float)
    holdout = float(args[args.index("--holdout") + 1]) if "--holdout" in args else 0.3
    cut = split_rows(TRAIN_ROWS, holdout)
    windows, rows = windows_by_device(values, bundle.window)
    error = np.full(len(values), np.nan)
    error[rows] = scorer.score(windows).error
    fit = windows_by_device(values[:cut], bundle.window)[0]
    held = windows_by_device(values[cut:TRAIN_ROWS], bundle.window)[0]
    return {"error": error, "fit": scorer.score(fit).error, "held": scorer.score(held).error,
            "truth": frame["anomaly"].to_numpy() > 0,
            "calibrated": np.asarray(bundle.meta["calibration"]["details"].get(
                "calibrated_threshold", bundle.threshold)),
            "threshold": np.asarray(bundle.threshold)}  # fmt: skip


def flags(error: np.ndarray, threshold: float, rule: str) -> np.ndarray:
    """The alarm rule over a whole file (rows without a window count as below)."""
    return persist(np.nan_to_num(error, nan=0.0) > threshold, parse_persistence(rule))


def gap(f: dict, q: float = 0.5) -> float:
    """Held-out over training error at quantile q, at least 1 (as `--gap-power` computes it)."""
    return max(1.0, float(np.quantile(f["held"], q) / np.quantile(f["fit"], q)))


RULES = {  # name -> threshold from the training rows' errors only (calibrated = POT at 1 %)
    "the bundle's own (--train-args)": lambda f: float(f["threshold"]),
    **{f"pot x {m:g}": (lambda f, m=m: m * float(f["calibrated"])) for m in (1, 1.5, 2, 2.25)},
    **{f"pot x gap50^{p:g}": (lambda f, p=p: float(f["calibrated"]) * gap(f) ** p)
       for p in (1, 1.5, 2, 3)},
    **{f"pot x gap{round(q * 100)}^2": (lambda f, q=q: float(f["calibrated"]) * gap(f, q) ** 2)
       for q in (0.25, 0.75, 0.9)},
    "pot x gap(mean)^2": lambda f: float(f["calibrated"])
    * max(1.0, f["held"].mean() / f["fit"].mean()) ** 2,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--train-args", default=DEFAULT_TRAIN_ARGS)
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--persistence", default="5/10")
    args = parser.parse_args()
    files = labelled_files(args.folder)
    if args.cache and args.cache.exists():
        stored = np.load(args.cache, allow_pickle=True)["files"].item()
    else:
        stored = {}
        for path in files:
            with tempfile.TemporaryDirectory() as tmp:
                stored[str(path.relative_to(args.folder))] = train_file(
                    path, shlex.split(args.train_args), Path(tmp))
            print(".", end="", flush=True)
        if args.cache:
            np.savez(args.cache, files=np.asarray(stored, dtype=object))
    rows = []
    for name, rule in RULES.items():
        cells = [name]
        for folder in ("valve1", "valve2", ""):
            q = Quality(0, 0, 0, 0)
            for key, f in stored.items():
                if key.startswith(folder):
                    flagged = flags(f["error"], rule(f), args.persistence)
                    q = q + quality(f["truth"][TRAIN_ROWS:], flagged[TRAIN_ROWS:])
            cells.append(f"{q.f1:.2f} / {q.far:.1f} / {q.mar:.1f}")
        rows.append(tuple(cells))
    print(f"\n{args.train_args}, persistence {args.persistence}\n")
    print(table(rows, ("rule", "valve1", "valve2", "all 20")))


if __name__ == "__main__":
    main()
