"""Throughput against the limit: `detector serve` against a bare kafka-python consumer.

    .venv/bin/python -m bench.throughput [--count 500000] [--repeats 3] [--batch-size 5000]

Fills a fresh one-partition topic with simulated readings (100 devices, the simulator's default
anomaly rate, so about 5 % of readings are flagged and published as events), then, `--repeats`
times in turn, times:

- the bare consumer (bench/bare_consumer.py: polls and touches each value, with the detector's
  consumer settings), once with Python's default garbage collector and once with the detector's
  settings for it (detector.cli_serve.collect_rarely), so the comparison is like for like;
- `detector serve` consuming the same topic with a fresh group until the group's committed
  offset reaches the end (KafkaAdminClient, every 50 ms); its clock starts when /healthz first
  says ready (its first batch is in), the bare consumer's at its first non-empty poll.

Targets: the detector >= 0.8x the bare consumer and >= 100,000 readings/s on one process.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import table
from bench.stream import Detector, Scratch, bare_command, end_offsets, fill, run_bare, train


def detector(model: Path, topic: str, count: int, scratch: Scratch,
             batch_size: int) -> tuple[float, str]:
    """Records/s of `detector serve` from ready to its committed offset at the end; command."""
    group = scratch.group()
    process = Detector(model, topic, group, scratch, ["--batch-size", str(batch_size)])
    try:
        process.wait_for(process.ready, "ready", every=0.02)
        started = time.perf_counter()
        process.wait_for(lambda: scratch.committed(group, topic) >= count,
                         "the committed offset to reach the end", timeout=900)
        elapsed = time.perf_counter() - started
    finally:
        code = process.stop()
    if code != 0:
        raise SystemExit(f"detector exited {code}:\n{''.join(process.lines)[-3000:]}")
    return count / elapsed, process.shown


def spread(values: list[float]) -> str:
    """Median and range."""
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=5000, help="the daemon's default")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Scratch() as scratch:
        print("training a model ...", flush=True)
        model = train(Path(tmp) / "model")
        topic = scratch.topic("readings")
        seconds = fill(topic, args.count)
        assert end_offsets(topic, 1) == args.count
        print(f"filled {topic} with {args.count:,} readings in {seconds:.1f} s", flush=True)
        plain = bare_command(topic, args.count, batch_size=args.batch_size)
        tuned = bare_command(topic, args.count, batch_size=args.batch_size, collect_rarely=True)
        rows, runs = [], []
        for run in range(1, args.repeats + 1):
            base, best = run_bare(plain), run_bare(tuned)
            rate, command = detector(model, topic, args.count, scratch, args.batch_size)
            runs.append((base, best, rate))
            rows.append((run, f"{base:,.0f}", f"{best:,.0f}", f"{rate:,.0f}",
                         f"{rate / base:.2f}", f"{rate / best:.2f}"))
            print(f"run {run}: bare {base:,.0f}/s, bare with the detector's GC settings "
                  f"{best:,.0f}/s, detector {rate:,.0f}/s", flush=True)
    print(f"\nbare consumer:   {shlex.join(plain)}")
    print(f"bare, tuned GC:  {shlex.join(tuned)}")
    print(f"detector:        {command}\n")
    print(table(rows, ("run", "bare records/s", "bare, detector's GC settings",
                       "detector serve records/s", "detector / bare",
                       "detector / bare with its GC settings")))
    ratios = [r / b for b, _, r in runs]
    strict = [r / t for _, t, r in runs]
    rates = [r for _, _, r in runs]
    print(f"\ndetector {spread(rates)} readings/s (target >= 100,000: "
          f"{'met' if min(rates) >= 100_000 else 'NOT met'}); "
          f"bare {spread([b for b, _, _ in runs])}/s")
    print(f"detector / bare: {min(ratios):.2f}-{max(ratios):.2f}; against the bare consumer "
          f"with the same GC settings: {min(strict):.2f}-{max(strict):.2f} (target >= 0.8: "
          f"{'met' if min(strict) >= 0.8 else 'NOT met'} like for like)")


if __name__ == "__main__":
    main()
