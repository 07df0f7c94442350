"""Training data with anomalies in it, through the CLI: the threshold `detector train` calibrates
on simulated data with labelled anomalies (left out), unlabelled ones (the robust refit) and
unlabelled ones kept (`--outliers keep`), as a ratio to the threshold clean data gives in the
same run, and the false-alarm rate and recall `detector evaluate` measures on fresh data.

    .venv/bin/python -m bench.quality.contaminated [--rates 0.001,0.002] [--count 20000]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from bench.common import table
from producer.simulator import Simulator


def write(path: Path, rate: float, count: int, seed: int, labels: bool = True) -> float:
    """A CSV of 4 devices' readings with anomalies at `rate`; the share of anomalous rows."""
    block = Simulator(devices=4, anomaly_rate=rate, seed=seed).block(count // 4)
    frame = pd.DataFrame(block.values, columns=[f"col_{i}" for i in range(1, 6)])
    frame.insert(0, "device", block.device)
    if labels:
        frame["label"] = block.label
    frame.to_csv(path, index=False)
    return float((pd.Series(block.label) != "normal").mean())


def detector(*args: str) -> str:
    """`detector ARGS` in this interpreter; its stdout and stderr."""
    done = subprocess.run([sys.executable, "-m", "detector", *args], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"failed: detector {' '.join(args)}\n{done.stderr[-2000:]}")
    return done.stdout + done.stderr


def case(folder: Path, name: str, data: Path, fresh: Path, *options: str) -> tuple[float, str]:
    """Train on `data`, evaluate on `fresh`: the threshold and 'FAR % / recall'."""
    detector("train", str(data), "--out", str(folder / name), "--seed", "0", *options)
    meta = json.loads((folder / name / "bundle.json").read_text())
    said = detector("evaluate", str(folder / name), str(fresh), "--no-plots")
    far = re.search(r"^far\s+([\d.]+) %", said, re.M)[1]
    recall = re.search(r"^recall\s+([\d.]+)", said, re.M)[1]
    return meta["calibration"]["threshold"], f"{far} / {recall}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="0.001,0.002")
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write(folder / "clean.csv", 0.0, args.count, 1)
        write(folder / "fresh.csv", 0.002, args.count, 7)
        base, figures = case(folder, "clean", folder / "clean.csv", folder / "fresh.csv")
        rows = [("clean", "0 %", f"{base:.5g}", "1.00", figures)]
        for rate in (float(r) for r in args.rates.split(",")):
            share = write(folder / "labelled.csv", rate, args.count, 1)
            write(folder / "unlabelled.csv", rate, args.count, 1, labels=False)
            for name, data, options in (
                ("labelled, left out", "labelled.csv", ()),
                ("unlabelled, robust refit", "unlabelled.csv", ()),
                ("unlabelled, --outliers keep", "unlabelled.csv", ("--outliers", "keep")),
            ):
                value, figures = case(folder, "m", folder / data, folder / "fresh.csv", *options)
                rows.append((name, f"{100 * share:.1f} %", f"{value:.5g}", f"{value / base:.2f}",
                             figures))
    print(table(rows, ("training data", "anomalous rows", "threshold", "× clean",
                       "fresh data: FAR % / recall")))
    print(f"\n.venv/bin/python -m bench.quality.contaminated --rates {args.rates} "
          f"--count {args.count}")


if __name__ == "__main__":
    main()
