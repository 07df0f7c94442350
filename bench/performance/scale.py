"""Scale-out: CPU per reading with 1, 2 and 4 replicas in one group, partition spread, rebalances.

    .venv/bin/python -m bench.performance.scale [--rate 10000] [--seconds 20] [--replicas 1,2,4]
        [--repeats 2] [--devices 100] [--fetch-min-bytes 1] [--fetch-wait-ms 500]
        [--kafka-client kafka-python|confluent]

On this 2-core machine, shared with the broker, more replicas cannot read faster than one, so a
wall-clock speed-up says nothing. What it can show is whether replicas add overhead. On a fresh
4-partition topic, for each replica count in turn (`--repeats` times), a fresh group of that many
`detector serve` replicas waits until the partitions are spread over them, then `producer
simulate` offers `--rate` readings/s for `--seconds`; then the same with a group of as many bare
kafka-python consumers (bench/performance/bare_consumer.py --group: poll, touch each value, commit
every 0.2 s), the baseline of what the client itself costs. The bench reports:

- CPU per reading: the CPU time of all members together (user + system, all threads, from
  /proc) from the producer's start until the group's committed offsets reach the end, divided by
  the readings; and each count's ratio to one member's, for the detector and the bare group;
- the spread: partitions (and, for the detector, readings scored) of each replica;
- the rebalance pause: with two replicas under the same offered load, a third joins and later
  one leaves (SIGTERM); the longest stretch in which the group's committed offsets did not
  advance (sampled every 50 ms) after each, against the longest before either.

`--fetch-min-bytes` and `--fetch-wait-ms` are given to both groups (`detector serve`'s options of
those names): fewer, larger polls. `--kafka-client confluent` runs both groups on librdkafka
(the bare members: bench/performance/bare_confluent.py). Goal: 4 replicas use at most 1.1x the
CPU per reading of one (1.3x on librdkafka, issue 29); partitions evenly spread.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shlex
import signal
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from bench.common import table
from bench.performance.harness import BOOTSTRAP, Scratch, serve, workbench, written
from tests.helpers import REPO
from tests.helpers.observability import eventually
from tests.helpers.processes import DetectorProcess, cpu_seconds, producer_command

PARTITIONS = 4


class BareMember:
    """A bare kafka-python group member (bare_consumer.py --group), as a process."""

    def __init__(self, topic: str, group: str, fetch: list[str]) -> None:
        self.command = [sys.executable, "-m", "bench.performance.bare_consumer", topic, "0",
                        "--group", group, *fetch]
        self.proc = subprocess.Popen(self.command, cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.shown = shlex.join(self.command)

    def cpu(self) -> float:
        """CPU seconds so far, all threads."""
        return cpu_seconds(self.proc.pid)

    def stop(self) -> int:
        """SIGTERM, then its exit status (it commits and leaves the group)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            self.proc.stderr.close()  # type: ignore[union-attr]

    def __enter__(self) -> BareMember:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start(model: Path, topic: str, scratch: Scratch, group: str, outputs: tuple[str, str],
          running: ExitStack, fetch: list[str]) -> DetectorProcess:
    """One more replica in the group."""
    return running.enter_context(serve(model, topic, group, scratch, "--offset-reset", "latest",
                                       *fetch, partitions=PARTITIONS, outputs=outputs))


def held(scratch: Scratch, group: str) -> list[list[int]]:
    """The partitions of each member of the group, as the broker sees them."""
    found = scratch.admin.describe_groups([group]).get(group) or {}
    if found.get("group_state") != "Stable":
        return []
    return [sorted(p for a in m["member_assignment"]["assigned_partitions"]
                   for p in a["partitions"]) for m in found["members"]]


def spread_out(scratch: Scratch, group: str, members: int) -> bool:
    """A stable group of `members`, each holding some partition and each partition held once."""
    parts = held(scratch, group)
    return (len(parts) == members and all(parts)
            and sorted(x for h in parts for x in h) == list(range(PARTITIONS)))


def scored(process: DetectorProcess) -> tuple[float, float]:
    """(detector_records_total, batches scored) of a replica."""
    return (process.sample("detector_records_total") or 0.0,
            process.sample("detector_batch_duration_seconds_count") or 0.0)


def produce(topic: str, rate: float, count: int, devices: int, seed: int) -> subprocess.Popen:
    """`producer simulate` at a steady rate, in the background."""
    command = producer_command(BOOTSTRAP, topic, count=count, rate=rate, devices=devices,
                               seed=seed)
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def measure(model: Path | None, topic: str, scratch: Scratch, replicas: int,
            args: argparse.Namespace, seed: int) -> tuple[float, list[str], str]:
    """CPU microseconds per reading of the whole group (bare members when `model` is None), and
    what each member held (and, for replicas, scored)."""
    group, count = scratch.group(), int(args.rate * args.seconds)
    outputs = (scratch.name("anomalies"), scratch.name("dlq")) if model else ("", "")
    with ExitStack() as running:
        members = [start(model, topic, scratch, group, outputs, running, args.fetch)
                   if model else running.enter_context(BareMember(topic, group, args.fetch))
                   for _ in range(replicas)]
        eventually(lambda: spread_out(scratch, group, replicas), 120, every=0.1,
                   what="the partitions to be spread")
        time.sleep(2)  # each member's position resolved (to the end: latest)
        cpu = sum(m.cpu() for m in members)
        counts = [scored(m) for m in members] if model else []
        producer = produce(topic, args.rate, count, args.devices, seed)
        producer.wait(timeout=args.seconds * 3 + 60)
        end = written(topic)
        eventually(lambda: scratch.committed(group, topic) >= end, 900, every=0.2,
                   what="the committed offsets to reach the end")
        cpu = sum(m.cpu() for m in members) - cpu
        if model:  # each replica's own partitions and readings
            share = [f"{m.healthz()[1].get('partitions')}: {n - c:,.0f} in {b - d:,.0f}"
                     for m, (c, d) in zip(members, counts, strict=True)
                     for n, b in [scored(m)]]
        else:
            share = [str(h) for h in held(scratch, group)]
        codes = [m.stop() for m in members]
    if any(codes):
        raise SystemExit(f"a member exited {codes}: {members[0].shown}")
    return cpu / count * 1e6, share, members[0].shown


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
        processes = [start(model, topic, scratch, group, outputs, running, args.fetch)
                     for _ in range(2)]
        eventually(lambda: spread_out(scratch, group, 2), 120, every=0.1,
                   what="the partitions to be spread")
        time.sleep(2)
        producer = produce(topic, args.rate, int(args.rate * seconds), args.devices, 99)
        samples, began, joined, left = [], time.monotonic(), None, None
        while producer.poll() is None:
            now = time.monotonic() - began
            samples.append((now, scratch.committed(group, topic)))
            if joined is None and now >= 10:
                processes.append(start(model, topic, scratch, group, outputs, running,
                                       args.fetch))
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


def ratios(cpu: dict[int, list[float]], counts: list[int]) -> list[tuple[str, str]]:
    """(median us CPU per reading, its ratio to the first count's) for each count."""
    one = statistics.median(cpu[counts[0]])
    return [(f"{statistics.median(cpu[n]):.1f}", f"{statistics.median(cpu[n]) / one:.2f}")
            for n in counts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--replicas", default="1,2,4")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--fetch-min-bytes", type=int, default=1)
    parser.add_argument("--fetch-wait-ms", type=int, default=500)
    parser.add_argument("--kafka-client", choices=("kafka-python", "confluent"),
                        default="kafka-python")
    args = parser.parse_args()
    args.fetch = ["--fetch-min-bytes", str(args.fetch_min_bytes),
                  "--fetch-wait-ms", str(args.fetch_wait_ms), "--kafka-client", args.kafka_client]
    counts = [int(x) for x in args.replicas.split(",")]
    print(f"load average at the start {os.getloadavg()} on {os.cpu_count()} cores", flush=True)
    cpu: dict[str, dict[int, list[float]]] = {k: {n: [] for n in counts}
                                              for k in ("detector", "bare")}
    rows, commands = [], {}
    with workbench(partitions=PARTITIONS) as (scratch, model, topic):
        for repeat, n in itertools.product(range(1, args.repeats + 1), counts):
            for kind, bundle in (("detector", model), ("bare", None)):
                us, share, commands[kind] = measure(bundle, topic, scratch, n, args,
                                                    repeat * 10 + n)
                cpu[kind][n].append(us)
                rows.append((repeat, n, kind, f"{us:.1f}", "; ".join(share)))
                print(f"repeat {repeat}, {n} {kind} member(s): {us:.1f} us CPU per reading; "
                      f"{'; '.join(share)}; load average {os.getloadavg()[0]:.1f}", flush=True)
        steady, join, leave = rebalance(model, topic, scratch, args)
    offered = producer_command(BOOTSTRAP, "TOPIC", count=int(args.rate * args.seconds),
                               rate=args.rate, devices=args.devices)
    print(f"\nproducer: {shlex.join(offered)}\neach replica: {commands['detector']}"
          f"\neach bare member: {commands['bare']}\n")
    print(table(rows, ("repeat", "members", "group", "us CPU per reading, all members",
                       "partitions (: readings scored in batches), per member")))
    print()
    print(table([(n, *d, *b) for n, d, b in zip(counts, ratios(cpu["detector"], counts),
                                                 ratios(cpu["bare"], counts), strict=True)],
                ("members", "detector: us CPU per reading (median)",
                 f"against {counts[0]}", f"bare {args.kafka_client} group: us CPU per reading",
                 f"against {counts[0]}")))
    print(f"\nrebalance, 2 replicas at {args.rate:,.0f} readings/s: longest commit stall "
          f"{steady:.2f} s steady, {join:.2f} s after a third joined, {leave:.2f} s after one "
          f"left (SIGTERM)")
    print(f"load average at the end {os.getloadavg()} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
