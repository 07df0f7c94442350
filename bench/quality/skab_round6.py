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

import shlex
import sys
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import table
from bench.quality.skab import CENTRED_TRAIN_ARGS
from bench.quality.skab_round5 import FOLDERS, Variant, arguments, cached, rows_of, totals, verdict
from bench.quality.skab_select import BUDGET, RULE

VARIANTS: dict[str, Variant] = {  # name: (lag, quantile), None: fixed
    "incumbent": None,
    "A6-L: median, rows t-619..t-420": (420, 0.5),
    "A6-Q: lower quartile, rows t-499..t-300": (300, 0.25),
}


def main() -> None:
    args = arguments(__doc__)
    results, rows = {}, []
    for seed in (int(s) for s in args.seeds.split(",")):
        stored = cached(args.cache_dir / f"inc_seed{seed}.npz", args.folder,
                        f"{CENTRED_TRAIN_ARGS} --seed {seed}")
        results[seed] = {name: totals(stored, v) for name, v in VARIANTS.items()}
        rows += rows_of(results[seed], seed)
    print(f"\n{CENTRED_TRAIN_ARGS}; POT {BUDGET:g} x gap (A6: re-based), persistence {RULE}\n")
    print(table(rows, ("variant", *FOLDERS, "all 20", "anomaly-free FAR, %")))
    print("\n" + "\n".join(verdict(results)))
    print(f"\ncommand: nice -n 19 .venv/bin/python -m bench.quality.skab_round6 "
          f"{shlex.quote(str(args.folder))} --cache-dir {args.cache_dir} --seeds {args.seeds}")


if __name__ == "__main__":
    main()
