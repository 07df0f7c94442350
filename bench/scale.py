"""Scale: one `detector serve` replica against two in one group, on a two-partition topic.

    .venv/bin/python -m bench.scale [--count 500000] [--repeats 2]

Fills a fresh two-partition topic, then, `--repeats` times in turn, consumes it with a fresh
group of one replica and of two. The clock starts once every replica holds its share of the
partitions (/healthz lists them; with two, after the group's rebalance) and stops when the
group's committed offsets reach the end; the readings committed before the start are left out
of the rate. Reports readings/s of each and the speed-up (two replicas / one). This machine has
2 cores, shared with the broker and everything else running.
"""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack
from pathlib import Path

from bench.common import table
from bench.stream import Scratch, serve, workbench


def consume(model: Path, topic: str, count: int, replicas: int,
            scratch: Scratch) -> tuple[float, str]:
    """Readings/s of `replicas` detectors in one group over the topic; one replica's command."""
    group = scratch.group()
    outputs = (scratch.name("anomalies"), scratch.name("dlq"))
    with ExitStack() as running:
        processes = [running.enter_context(serve(model, topic, group, scratch, partitions=2,
                                                 outputs=outputs)) for _ in range(replicas)]

        def shared() -> bool:
            held = [p.healthz()[1].get("partitions") or [] for p in processes]
            return sorted(x for h in held for x in h) == [0, 1] and all(held)

        processes[0].wait_for(shared, "every replica to hold partitions", every=0.02)
        started, before = time.perf_counter(), scratch.committed(group, topic)
        processes[0].wait_for(lambda: scratch.committed(group, topic) >= count,
                              "the committed offsets to reach the end", timeout=900)
        elapsed = time.perf_counter() - started
        codes = [p.stop() for p in processes]
    if any(codes):
        raise SystemExit(f"a detector exited {codes}:\n{processes[0].log[-3000:]}")
    return (count - before) / elapsed, processes[0].shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    rows, speedups = [], []
    with workbench(args.count, partitions=2) as (scratch, model, topic):
        for run in range(1, args.repeats + 1):
            one, command = consume(model, topic, args.count, 1, scratch)
            two, _ = consume(model, topic, args.count, 2, scratch)
            speedups.append(two / one)
            rows.append((run, f"{one:,.0f}", f"{two:,.0f}", f"{two / one:.2f}"))
            print(f"run {run}: one replica {one:,.0f}/s, two replicas {two:,.0f}/s", flush=True)
    print(f"\neach replica: {command}\n")
    print(table(rows, ("run", "1 replica readings/s", "2 replicas readings/s", "speed-up")))
    print(f"\nspeed-up {min(speedups):.2f}-{max(speedups):.2f}x with two replicas")


if __name__ == "__main__":
    main()
