"""Footprint: time from start to ready, and resident memory under load and when steady.

    .venv/bin/python -m bench.performance.footprint [--count 300000] [--starts 3]

Start to ready: from launching `detector serve` to its /healthz answering 200 (model loaded,
broker reached, partitions assigned), `--starts` times with a fresh group each.
Memory: one detector works through a backlog of `--count` readings on a fresh topic (batches of
5000) while its VmRSS is read from /proc every 0.2 s; then it idles for 10 s. Reports the
peak, the RSS once the backlog is done, and after idling.
Targets: start to ready <= 15 s; steady RSS <= 1 GiB.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench.common import table
from bench.performance.harness import Scratch, peak_rss_while_scoring, serve, workbench

MIB = 1024 * 1024


def start_to_ready(model: Path, topic: str, scratch: Scratch) -> tuple[float, str]:
    """Seconds from launch to /healthz 200; the command."""
    with serve(model, topic, scratch.group(), scratch) as process:
        process.wait_for(process.ready, "ready", every=0.02)
        seconds = time.monotonic() - process.started
        process.stop()
    return seconds, process.shown


def memory(model: Path, topic: str, count: int, scratch: Scratch) -> tuple[int, int, int]:
    """Peak RSS while consuming the backlog, RSS when it is done, RSS after 10 s idle."""
    group = scratch.group()
    with serve(model, topic, group, scratch) as process:
        process.wait_for(process.ready, "ready")
        peak = peak_rss_while_scoring(process, scratch, group, topic, count, timeout=900)
        done = process.rss()
        time.sleep(10)
        idle = process.rss()
        process.stop()
    return max(peak, done), done, idle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300_000)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()
    with workbench(args.count) as (scratch, model, topic):
        starts = []
        for _ in range(args.starts):
            seconds, command = start_to_ready(model, topic, scratch)
            starts.append(seconds)
            print(f"start to ready: {seconds:.2f} s", flush=True)
        peak, done, idle = memory(model, topic, args.count, scratch)
    print(f"\ncommand: {command}\n")
    rows = [
        (f"start to ready (median of {len(starts)}; range)", f"{statistics.median(starts):.2f} s",
         f"{min(starts):.2f}-{max(starts):.2f} s"),
        (f"RSS, peak while working through {args.count:,} readings", f"{peak / MIB:.0f} MiB", ""),
        ("RSS once the backlog is done", f"{done / MIB:.0f} MiB", ""),
        ("RSS after 10 s idle", f"{idle / MIB:.0f} MiB", ""),
    ]
    print(table(rows, ("measure", "value", "range")))
    print(f"\nstart to ready <= 15 s: {'met' if max(starts) <= 15 else 'NOT met'}; "
          f"steady RSS <= 1 GiB: {'met' if max(peak, idle) <= 1024 * MIB else 'NOT met'}")


if __name__ == "__main__":
    main()
