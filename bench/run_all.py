"""Run the benchmarks one after another, printing each one's exact command and its output.

    .venv/bin/python bench/run_all.py [NAME ...] [--all] [--list]      (make bench)

Without names it runs the default set below; --all adds the long ones (SKAB, which needs the
data set, and the 30-minute soak). Streaming benchmarks use the broker at 127.0.0.1:9092 (or
BENCH_BOOTSTRAP) with fresh topics they delete afterwards. The machine should be otherwise idle:
absolute figures move with its load, ratios taken within one run much less.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

if not __package__:  # run as a file (make bench): the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import REPO
from tests.helpers.broker import broker_answers

PY = sys.executable
BOOTSTRAP = os.environ.get("BENCH_BOOTSTRAP", "127.0.0.1:9092")
BENCHMARKS = {
    "throughput": [PY, "-m", "bench.performance.throughput"],
    "naive": [PY, "-m", "bench.performance.naive"],
    "latency": [PY, "-m", "bench.performance.latency"],
    "stages": [PY, "-m", "bench.performance.stages"],
    "retrain_lag": [PY, "-m", "bench.performance.retrain_lag"],
    "scale": [PY, "-m", "bench.performance.scale"],
    "footprint": [PY, "-m", "bench.performance.footprint"],
    "offline": [PY, "-m", "bench.performance.offline"],
    "record_decode": [PY, "-m", "bench.performance.record_decode"],
    "simulated_quality": [PY, "-m", "bench.quality.simulated"],
}
STREAMING = {"throughput", "latency", "stages", "retrain_lag", "scale", "footprint", "soak"}
LONG = {
    "skab": [PY, "-m", "bench.quality.skab"],
    "soak": [PY, "-m", "bench.performance.soak"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all but the long)")
    parser.add_argument("--all", action="store_true", help="also the long ones: skab, soak")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args()
    known = {**BENCHMARKS, **LONG}
    if args.list:
        for name, command in known.items():
            print(f"{name:18s} {shlex.join(command)}{'  (long)' if name in LONG else ''}")
        return
    unknown = [n for n in args.names if n not in known]
    if unknown:
        sys.exit(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    chosen = args.names or [*BENCHMARKS, *(LONG if args.all else [])]
    if STREAMING & set(chosen) and broker_answers(BOOTSTRAP, timeout=5) is not None:
        sys.exit("no Kafka broker answers at 127.0.0.1:9092 (or BENCH_BOOTSTRAP): start one with "
                 "deploy/local/stack up kafka")
    results = []
    for name in chosen:
        command = known[name]
        print(f"\n=== {name}: {shlex.join(command)}  (in {REPO})", flush=True)
        started = time.monotonic()
        code = subprocess.run(command, cwd=REPO).returncode
        results.append((name, code, time.monotonic() - started))
    print("\n=== summary")
    for name, code, seconds in results:
        print(f"{name:18s} {'ok' if code == 0 else f'FAILED ({code})':12s} {seconds:6.0f} s")
    if any(code for _, code, _ in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
