"""Scale-out: CPU per reading with 1, 2 and 4 replicas in one group, partition spread, rebalances.

    .venv/bin/python -m bench.scale [--rate 10000] [--seconds 20] [--replicas 1,2,4]
        [--repeats 2] [--devices 100]

On this 2-core machine, shared with the broker, more replicas cannot read faster than one, so a
wall-clock speed-up says nothing. What it can show is whether replicas add overhead. On a fresh
4-partition topic, for each replica count in turn (`--repeats` times), a fresh group of that many
`detector serve` replicas waits until the partitions are spread over them, then `producer
simulate` offers `--rate` readings/s for `--seconds`, and the bench reports:

- CPU per reading: the CPU time of all replicas together (user + system, all threads, from
  /proc) from the producer's start until the group's committed offsets reach the end, divided by
  the readings; and each count's ratio to one replica's;
- the spread: partitions and readings scored by each replica;
- the rebalance pause: with two replicas under the same offered load, a third joins and later
  one leaves (SIGTERM); the longest stretch in which the group's committed offsets did not
  advance (sampled every 50 ms) after each, against the longest before either.

Goal: 4 replicas use at most 1.1x the CPU per reading of one; partitions evenly spread.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shlex
import statistics
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path

from bench.common import table
from bench.stream import BOOTSTRAP, Scratch, serve, workbench, written
from tests.helpers import REPO
from tests.helpers.processes import DetectorProcess, producer_command

PARTITIONS = 4


def start(model: Path, topic: str, scratch: Scratch, group: str, outputs: tuple[str, str],
          running: ExitStack) -> DetectorProcess:
    """One more replica in the group."""
    return running.enter_context(serve(model, topic, group, scratch, "--offset-reset", "latest",
                                       partitions=PARTITIONS, outputs=outputs))


def held(processes: list[DetectorProcess]) -> list[list[int]]:
    """The partitions each replica says it holds."""
    return [p.healthz()[1].get("partitions") or [] for p in processes]


def spread_out(processes: list[DetectorProcess]) -> bool:
    """Every partition held once, and every replica holding some."""
    parts = held(processes)
    return sorted(x for h in parts for x in h) == list(range(PARTITIONS)) and all(parts)


def scored(process: DetectorProcess) -> float:
    """detector_records_total of a replica."""
    return process.sample("detector_records_total") or 0.0


def produce(topic: str, rate: float, count: int, devices: int, seed: int) -> subprocess.Popen:
    """`producer simulate` at a steady rate, in the background."""
    command = producer_command(BOOTSTRAP, topic, count=count, rate=rate, devices=devices,
                               seed=seed)
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def measure(model: Path, topic: str, scratch: Scratch, replicas: int, args: argparse.Namespace,
            seed: int) -> tuple[float, list[tuple[list[int], float]], str]:
    """CPU microseconds per reading of the whole group; (partitions, readings) per replica."""
    group, outputs = scratch.group(), (scratch.name("anomalies"), scratch.name("dlq"))
    count = int(args.rate * args.seconds)
    with ExitStack() as running:
        processes = [start(model, topic, scratch, group, outputs, running)
                     for _ in range(replicas)]
        processes[0].wait_for(lambda: spread_out(processes), "the partitions to be spread",
                              timeout=120, every=0.1)
        time.sleep(2)  # each replica's position resolved (to the end: --offset-reset latest)
        cpu = sum(p.cpu() for p in processes)
        counts = [scored(p) for p in processes]
        producer = produce(topic, args.rate, count, args.devices, seed)
        producer.wait(timeout=args.seconds * 3 + 60)
        end = written(topic)
        processes[0].wait_for(lambda: scratch.committed(group, topic) >= end,
                              "the committed offsets to reach the end", timeout=900, every=0.2)
        cpu = sum(p.cpu() for p in processes) - cpu
        share = [(h, scored(p) - c) for p, h, c in zip(processes, held(processes), counts,
                                                       strict=True)]
        codes = [p.stop() for p in processes]
    if any(codes):
        raise SystemExit(f"a replica exited {codes}:\n{processes[0].log[-3000:]}")
    return cpu / sum(r for _, r in share) * 1e6, share, processes[0].shown


def longest_gap(samples: list[tuple[float, int]], start: float, stop: float) -> float:
    """The longest time within [start, stop) between two advances of the committed total."""
    inside = [(t, c) for t, c in samples if start <= t < stop]
    longest, last = 0.0, inside[0][0] if inside else 0.0
    for (_, c0), (t1, c1) in itertools.pairwise(inside):
        if c1 > c0:
            longest, last = max(longest, t1 - last), t1
    return max(longest, inside[-1][0] - last) if inside else 0.0


def rebalance(model: Path, topic: str, scratch: Scratch, args: argparse.Namespace
              ) -> tuple[float, float, float]:
    """Longest commit stall: steady with 2 replicas, after a third joins, after one leaves."""
    group, outputs = scratch.group(), (scratch.name("anomalies"), scratch.name("dlq"))
    seconds = 30.0
    with ExitStack() as running:
        processes = [start(model, topic, scratch, group, outputs, running) for _ in range(2)]
        processes[0].wait_for(lambda: spread_out(processes), "the partitions to be spread",
                              timeout=120, every=0.1)
        time.sleep(2)
        producer = produce(topic, args.rate, int(args.rate * seconds), args.devices, 99)
        samples, began, joined, left = [], time.monotonic(), None, None
        while producer.poll() is None:
            now = time.monotonic() - began
            samples.append((now, scratch.committed(group, topic)))
            if joined is None and now >= 10:
                processes.append(start(model, topic, scratch, group, outputs, running))
                joined = now
            if left is None and now >= 20:
                processes[0].stop()
                left = now
            time.sleep(0.05)
        codes = [p.stop() for p in processes]
    if any(codes):
        raise SystemExit(f"a replica exited {codes}:\n{processes[-1].log[-3000:]}")
    return (longest_gap(samples, 2, joined), longest_gap(samples, joined, left),
            longest_gap(samples, left, seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--replicas", default="1,2,4")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--devices", type=int, default=100)
    args = parser.parse_args()
    counts = [int(x) for x in args.replicas.split(",")]
    print(f"load average at the start {os.getloadavg()} on {os.cpu_count()} cores", flush=True)
    cpu: dict[int, list[float]] = {n: [] for n in counts}
    rows = []
    with workbench(partitions=PARTITIONS) as (scratch, model, topic):
        for repeat in range(1, args.repeats + 1):
            for n in counts:
                us, share, command = measure(model, topic, scratch, n, args, repeat * 10 + n)
                cpu[n].append(us)
                spread = "; ".join(f"{h}: {r:,.0f}" for h, r in share)
                rows.append((repeat, n, f"{us:.1f}", spread))
                print(f"repeat {repeat}, {n} replica(s): {us:.1f} us CPU per reading; "
                      f"{spread}; load average {os.getloadavg()[0]:.1f}", flush=True)
        steady, join, leave = rebalance(model, topic, scratch, args)
    offered = producer_command(BOOTSTRAP, "TOPIC", count=int(args.rate * args.seconds),
                               rate=args.rate, devices=args.devices)
    print(f"\nproducer: {shlex.join(offered)}\neach replica: {command}\n")
    print(table(rows, ("repeat", "replicas", "us CPU per reading, all replicas",
                       "partitions: readings scored, per replica")))
    one = statistics.median(cpu[counts[0]])
    print()
    print(table([(n, f"{statistics.median(cpu[n]):.1f}",
                  f"{statistics.median(cpu[n]) / one:.2f}") for n in counts],
                ("replicas", "us CPU per reading (median)", f"against {counts[0]} replica(s)")))
    print(f"\nrebalance, 2 replicas at {args.rate:,.0f} readings/s: longest commit stall "
          f"{steady:.2f} s steady, {join:.2f} s after a third joined, {leave:.2f} s after one "
          f"left (SIGTERM)")
    print(f"load average at the end {os.getloadavg()} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
