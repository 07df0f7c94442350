"""False alarms on SKAB's anomaly-free run, which no setting was chosen on: each setting's FAR.

    .venv/bin/python -m bench.quality.skab_normal [--pieces 6] [--jobs 2] [--settings default,...]
        [--long-train N] [--seed N]

`anomaly-free/anomaly-free.csv` (9,405 rows of normal operation) is cut into pieces of 1,400 rows:
400 to train on and 1,000 to score, as a SKAB file (whose test parts hold 600–1,000 rows). Each
piece goes through skab.py's own protocol (`detector train` on its first 400 rows, `detector
score --history`), once per setting. Every row is normal, so the only figure is the false-alarm
rate, summed over the pieces (and its range over them).

`--long-train N` then trains the default setting once on the run's first N rows and scores the rest,
with its false-alarm rate for every 1,000 rows after the training: how long a longer training holds.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import table
from bench.quality.skab import (
    DEFAULT_FOLDER,
    DEFAULT_TRAIN_ARGS,
    PRESETS,
    TRAIN_ROWS,
    one_thread_each,
    run_file,
    with_seed,
)
from detector.offline.evaluate import quality
from shared.tables import read_csv

PIECE_ROWS = TRAIN_ROWS + 1000
SETTINGS = {"default": DEFAULT_TRAIN_ARGS, **PRESETS}


def normal_csv(frame: pd.DataFrame, path: Path) -> Path:
    """The rows as a SKAB CSV at `path`, with an `anomaly` column of zeros (every row normal)."""
    frame.assign(anomaly=0.0).to_csv(path, sep=";", index=False)
    return path


def piece_frames(frame: pd.DataFrame, count: int | None = None) -> list[pd.DataFrame]:
    """The first `count` (by default every whole) pieces of PIECE_ROWS rows of the normal run,
    each indexed from 0 with an `anomaly` column of zeros."""
    whole = len(frame) // PIECE_ROWS
    return [frame.iloc[i * PIECE_ROWS:(i + 1) * PIECE_ROWS].reset_index(drop=True)
            .assign(anomaly=0.0) for i in range(whole if count is None else min(count, whole))]


def pieces(source: Path, work: Path, count: int) -> list[Path]:
    """The first `count` pieces of PIECE_ROWS rows of the normal run, as CSVs in `work`."""
    return [normal_csv(piece, work / f"{i}.csv")
            for i, piece in enumerate(piece_frames(read_csv(source), count))]


def setting_args(name: str, seed: int | None) -> list[str]:
    """A setting's `detector train` options, with `--seed` when one is given."""
    return shlex.split(with_seed(SETTINGS[name], seed))


def long_training(source: Path, rows: int, env: dict[str, str],
                  seed: int | None = None) -> list[float]:
    """The default setting trained on the run's first `rows` rows (skab.py's protocol with
    a longer training): the share of each 1,000 later rows it flags, in percent."""
    with tempfile.TemporaryDirectory(prefix="skab-long-") as tmp:
        work = Path(tmp)
        run = normal_csv(read_csv(source), work / "run.csv")
        flagged = run_file(run, work, setting_args("default", seed), env,
                           train_rows=rows).flagged
    return [100 * float(flagged[i:i + 1000].mean()) for i in range(0, len(flagged), 1000)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path,
                        default=DEFAULT_FOLDER / "anomaly-free" / "anomaly-free.csv")
    parser.add_argument("--pieces", type=int, default=6)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--long-train", type=int, default=0, metavar="N",
                        help="also train the default on the first N rows and score the rest")
    parser.add_argument("--settings", default="default,centred,drift-headroom,gap2-label-chosen",
                        help=f"comma-separated, of: {', '.join(SETTINGS)}")
    parser.add_argument("--seed", type=int, help="detector train --seed (default: train's own, 0)")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.settings.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SETTINGS]
    if unknown:
        sys.exit(f"unknown setting {', '.join(unknown)}: choose from {', '.join(SETTINGS)}")
    env = one_thread_each()
    rows = []
    with tempfile.TemporaryDirectory(prefix="skab-normal-") as tmp:
        work = Path(tmp)
        files = pieces(args.source, work, args.pieces)
        for name in chosen:
            train_args = setting_args(name, args.seed)
            with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                results = list(pool.map(lambda f, a=train_args: run_file(f, work, a, env), files))
            each = [quality(r.truth, r.flagged).far for r in results]
            false, normal = (sum(int(r.flagged.sum()) for r in results),
                             sum(len(r.flagged) for r in results))
            rows.append((name, f"{100 * false / normal:.2f}", f"{min(each):.2f}–{max(each):.2f}"))
            print(f"{name}: FAR {rows[-1][1]} % ({rows[-1][2]} over {len(files)} pieces)",
                  flush=True)
    print(f"\n{len(files)} pieces of {PIECE_ROWS} rows of {args.source} (train on the first "
          f"{TRAIN_ROWS}, score the rest)"
          + ("" if args.seed is None else f", detector train --seed {args.seed}") + "\n")
    print(table(rows, ("setting", "FAR, %", "range over pieces, %")))
    if args.long_train:
        shares = long_training(args.source, args.long_train, env, args.seed)
        print(f"\nthe default trained on the first {args.long_train} rows, FAR % of each 1,000 "
              "rows after them: " + ", ".join(f"{share:.1f}" for share in shares))


if __name__ == "__main__":
    main()
