"""Throughput against the limit: `detector serve` against a bare kafka-python consumer.

    .venv/bin/python -m bench.throughput [--count 500000] [--repeats 3] [--batch-size 5000]

Fills a fresh one-partition topic with simulated readings (100 devices, the simulator's default
anomaly rate, so about 5 % of readings are flagged and published as events), then, `--repeats`
times in turn, times:

- the bare consumer (bench/bare_consumer.py: polls and touches each value, with the detector's
  consumer settings), once with Python's default garbage collector and once with the detector's
  settings for it (detector.cli.serve.collect_rarely), so the comparison is like for like;
- `detector serve` consuming the same topic with a fresh group until the group's committed
  offset reaches the end (KafkaAdminClient, every 50 ms); its clock starts when /healthz first
  says ready (its first batch is in), the bare consumer's at its first non-empty poll.

Besides records/s (wall clock), each reports its CPU time per record (all threads; the bare
consumer's from time.process_time, the detector's from /proc): on a machine shared with other
work the wall-clock rates swing with its load, the CPU cost per record much less.

Targets: the detector >= 0.8x the bare consumer and >= 100,000 readings/s on one process.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import time
from pathlib import Path

from bench.common import table
from bench.stream import Scratch, bare_command, run_bare, serve, workbench


def detector(model: Path, topic: str, count: int, scratch: Scratch,
             batch_size: int) -> tuple[float, float, str]:
    """Records/s of `detector serve` from ready to its committed offset at the end, its CPU
    microseconds per record over that time (all threads), and its command."""
    group = scratch.group()
    with serve(model, topic, group, scratch, "--batch-size", str(batch_size)) as process:
        process.wait_for(process.ready, "ready", every=0.02)
        started, cpu = time.perf_counter(), process.cpu()
        process.wait_for(lambda: scratch.committed(group, topic) >= count,
                         "the committed offset to reach the end", timeout=900)
        elapsed, cpu = time.perf_counter() - started, process.cpu() - cpu
        code = process.stop()
    if code != 0:
        raise SystemExit(f"detector exited {code}:\n{process.log[-3000:]}")
    return count / elapsed, cpu / count * 1e6, process.shown


def spread(values: list[float], digits: int = 0) -> str:
    """Median and range."""
    return (f"{statistics.median(values):,.{digits}f} "
            f"({min(values):,.{digits}f}-{max(values):,.{digits}f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=5000, help="the daemon's default")
    args = parser.parse_args()
    with workbench(args.count) as (scratch, model, topic):
        plain = bare_command(topic, args.count, batch_size=args.batch_size)
        tuned = bare_command(topic, args.count, batch_size=args.batch_size, collect_rarely=True)
        runs = []
        for run in range(1, args.repeats + 1):
            base, tuned_base = run_bare(plain), run_bare(tuned)
            rate, cpu, command = detector(model, topic, args.count, scratch, args.batch_size)
            runs.append((base, tuned_base, (rate, cpu)))
            print(f"run {run}: bare {base[0]:,.0f}/s ({base[1]:.1f} us CPU/record), bare with "
                  f"serve's GC settings {tuned_base[0]:,.0f}/s ({tuned_base[1]:.1f} us), "
                  f"detector {rate:,.0f}/s ({cpu:.1f} us); load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    print(f"\nbare consumer:   {shlex.join(plain)}")
    print(f"bare, serve's GC: {shlex.join(tuned)}")
    print(f"detector:        {command}\n")
    rows = [(run, *(f"{r:,.0f} / {c:.1f}" for r, c in (b, t, d)),
             f"{d[0] / b[0]:.2f} / {b[1] / d[1]:.2f}", f"{d[0] / t[0]:.2f} / {t[1] / d[1]:.2f}")
            for run, (b, t, d) in enumerate(runs, 1)]
    print(table(rows, ("run", "bare: records/s / us CPU each", "bare, serve's GC settings",
                       "detector serve", "detector / bare (wall / CPU)",
                       "detector / bare with serve's GC (wall / CPU)")))
    rates = [d[0] for _, _, d in runs]
    met = "met" if min(rates) >= 100_000 else "NOT met"
    print(f"\nreadings/s: detector {spread(rates)} (target >= 100,000: {met}); "
          f"bare {spread([b[0] for b, _, _ in runs])}; "
          f"bare with serve's GC {spread([t[0] for _, t, _ in runs])}")
    for name, pick in (("bare", 0), ("bare with serve's GC", 1)):
        wall = [r[2][0] / r[pick][0] for r in runs]
        cpu = [r[pick][1] / r[2][1] for r in runs]
        print(f"detector / {name}: wall {spread(wall, 2)}, CPU per record {spread(cpu, 2)} "
              f"(target >= 0.8)")


if __name__ == "__main__":
    main()
