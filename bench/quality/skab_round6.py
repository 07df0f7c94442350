"""Research (issue 28, round 6): the re-based threshold kept off its own fault.

    nice -n 19 .venv/bin/python -m bench.quality.skab_round6 [FOLDER] [--cache-dir DIR]
        [--seeds 0,1]

The protocol is written in bench/RESULTS.md ("issue 28, round 6"). The incumbent's errors are
round 5's caches (DIR/inc_seedS.npz; `bench.quality.skab_round5` computes a missing one).
Variants of round 5's A (bench/quality/rebase.py): A6-L, the median of rows t − 619 … t − 420;
A6-Q, the lower quartile of rows t − 499 … t − 300 against the held-out errors' lower quartile.
Persistence 5/10 after each. Prints every variant per folder and seed, the two directions'
choices and the verdict, by round 5's rule.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import table
from bench.quality.rebase import ROWS, rebased_thresholds
from bench.quality.skab import DEFAULT_FOLDER, DEFAULT_TRAIN_ARGS, TRAIN_ROWS
from bench.quality.skab_round5 import FOLDERS, cached, verdict
from bench.quality.skab_select import BUDGET, RULE, WINDOW, fig
from detector.core.alarm import parse_persistence, persist
from detector.core.calibration import calibrate
from detector.offline.evaluate import Quality, quality

VARIANTS: dict[str, tuple[int, float] | None] = {  # name: (lag, quantile), None: fixed
    "incumbent": None,
    "A6-L: median, rows t-619..t-420": (420, 0.5),
    "A6-Q: lower quartile, rows t-499..t-300": (300, 0.25),
}


def flags(f: dict, variant: tuple[int, float] | None) -> np.ndarray:
    """The test rows' flags: the AE's error above its threshold (fixed, or re-based by the
    variant's lag and quantile), then persistence 5/10."""
    calibration = calibrate(f["held"], "pot", BUDGET, 1.0, WINDOW, f["fit"], gap_power=1.0)
    threshold: float | np.ndarray = calibration.threshold
    if variant is not None:
        lag, q = variant
        threshold = rebased_thresholds(f["error"], calibration.details["calibrated_threshold"],
                                       calibration.details["gap"],
                                       float(np.quantile(f["held"], q)), lag, ROWS, q)
    above = np.nan_to_num(f["error"], nan=0.0) > threshold
    return persist(above, parse_persistence(RULE))[TRAIN_ROWS:]


def totals(stored: dict[str, dict], variant: tuple[int, float] | None) -> dict[str, Quality]:
    """Counts per folder (valve1, valve2, anomaly-free) and over the 20 files."""
    out: dict[str, Quality] = {}
    for name, f in stored.items():
        q = quality(f["truth"][TRAIN_ROWS:], flags(f, variant))
        group = name.split("/")[0]
        out[group] = out.get(group, Quality(0, 0, 0, 0)) + q
        if group != "anomaly-free":
            out["all 20"] = out.get("all 20", Quality(0, 0, 0, 0)) + q
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/q5"))
    parser.add_argument("--seeds", default="0,1")
    args = parser.parse_args()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    results, rows = {}, []
    for seed in (int(s) for s in args.seeds.split(",")):
        stored = cached(args.cache_dir / f"inc_seed{seed}.npz", args.folder,
                        f"{DEFAULT_TRAIN_ARGS} --seed {seed}")
        results[seed] = {name: totals(stored, v) for name, v in VARIANTS.items()}
        rows += [(f"{name}, seed {seed}", *(fig(r[g]) for g in (*FOLDERS, "all 20")),
                  f"{r['anomaly-free'].far:.2f}") for name, r in results[seed].items()]
    print(f"\n{DEFAULT_TRAIN_ARGS}; POT {BUDGET:g} x gap (A6: re-based), persistence {RULE}\n")
    print(table(rows, ("variant", *FOLDERS, "all 20", "anomaly-free FAR, %")))
    print("\n" + "\n".join(verdict(results)))
    print(f"\ncommand: nice -n 19 .venv/bin/python -m bench.quality.skab_round6 "
          f"{shlex.quote(str(args.folder))} --cache-dir {args.cache_dir} --seeds {args.seeds}")


if __name__ == "__main__":
    main()
