"""Offline speed: `detector score` on a 1,000,000-row CSV and `detector train` on 100,000 rows.

    .venv/bin/python -m bench.performance.offline [--rows 1000000] [--train-rows 100000]

Baseline in the same run: `wc -l` reading the same CSV (the floor of any tool that reads it) and
pandas reading it and writing it back (what any pandas-based scorer pays before scoring).
Target: `detector score` >= 200,000 rows/s, start-up included.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench.common import run, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--train-rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data, model, out = work / "data.csv", work / "model", work / "scores.csv"
        print(f"simulating {args.rows} rows ...", flush=True)
        run(
            "producer",
            "simulate",
            "--output",
            str(data),
            "--count",
            str(args.rows),
            "--devices",
            "10",
            "--anomaly-rate",
            "0.005",
        )
        print(f"training on {args.train_rows} simulated rows ...", flush=True)
        train_s = run("detector", "train", "--simulate", str(args.train_rows), "--out", str(model))
        print("scoring ...", flush=True)
        score_s = min(
            run("detector", "score", str(model), str(data), "--out", str(out)) for _ in range(3)
        )
        started = time.perf_counter()
        pd.read_csv(data).to_csv(work / "copy.csv", index=False)
        pandas_s = time.perf_counter() - started
    rows = [
        (
            "detector score (whole command, best of 3)",
            f"{score_s:.2f}",
            f"{args.rows / score_s:,.0f}",
        ),
        (
            "baseline: pandas read_csv + to_csv, no scoring",
            f"{pandas_s:.2f}",
            f"{args.rows / pandas_s:,.0f}",
        ),
        (f"detector train --simulate {args.train_rows}", f"{train_s:.1f}", "-"),
    ]
    print(f"\ncommands: .venv/bin/detector train --simulate {args.train_rows} --out MODEL")
    print(f"          .venv/bin/detector score MODEL DATA.csv --out SCORES.csv  "
          f"(DATA.csv: producer simulate --output DATA.csv --count {args.rows} --devices 10 "
          "--anomaly-rate 0.005)\n")
    print(table(rows, ("step", "seconds", "rows/s")))
    print(
        f"\nscore speed / pandas round trip: {pandas_s / score_s:.2f}x;"
        f" target >= 200,000 rows/s: {'met' if args.rows / score_s >= 200_000 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
