"""Throughput against the limit: `detector serve` against a bare consumer of its own Kafka client
library, by case and library.

    .venv/bin/python -m bench.performance.throughput [--count 500000] [--repeats 3]
        [--batch-size 5000] [--cases a,b,c1,c2,d,s] [--kafka-clients kafka-python,confluent]
        [--compare CHECKOUT]

The cases, each a fresh topic filled once with `--count` simulated readings (100 devices):

- a: 1 partition, the simulator's default anomaly rate (0.002 a reading: about 5 % of readings
  inside an anomaly), the default bundle (point-wise, no persistence);
- b: the same on 6 partitions;
- c1, c2: 1 partition with about 1 % and 0.1 % of readings inside an anomaly;
- d: as a, with a windowed bundle (window 20, persistence 5/10);
- s: the incident storm, 1 partition, 64 devices, anomaly rate 0.01 (about 17 % flagged).

Each client library (`--kafka-clients`) is measured against its own bare consumer
(bare_consumer.py --kafka-client): `detector serve --kafka-client confluent` against a bare
confluent-kafka consumer, the default against a bare kafka-python one.

`--repeats` times, case after case, it times the bare consumer (bare_consumer.py: polls and
touches each value, with the detector's consumer settings and Python's default garbage
collector) and then `detector serve` with a fresh group on the same topic. The bare consumer's
clock runs from its first non-empty poll to its last record; the detector's from when /healthz
first says ready to when the group's committed offsets reach the end (KafkaAdminClient, every
50 ms), so it includes publishing the events and committing. In case a the bare consumer also
runs with serve's garbage-collector settings (detector.cli.serve.collect_rarely), for reference.
Each reports records/s (wall clock) and CPU time per record (all threads).

With `--compare CHECKOUT` each case also times the `detector` of another checkout (e.g. a copy
of main: `git worktree add /tmp/main main`) right after this one's, on the same topic: the ratio
before and after a change, in one run.

Target: in every case the detector >= 0.8x the bare consumer's readings/s, wall clock.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import table
from bench.performance.harness import (
    Scratch,
    bare_command,
    fill,
    run_bare,
    serve,
    workbench,
    written,
)
from tests.helpers.bundles import train_bundle

WINDOWED = ("--window", "20", "--persistence", "5/10")


@dataclass(frozen=True)
class Case:
    key: str
    what: str
    partitions: int
    anomaly_rate: float  # the simulator's chance per reading that an anomaly starts
    windowed: bool = False
    devices: int = 100


CASES = (
    Case("a", "1 partition, default bundle", 1, 0.002),
    Case("b", "6 partitions", 6, 0.002),
    Case("c1", "1 % anomalies", 1, 0.0004),
    Case("c2", "0.1 % anomalies", 1, 0.00003),
    Case("d", "windowed bundle (window 20, persistence 5/10)", 1, 0.002, windowed=True),
    Case("s", "storm: 64 devices, anomaly rate 0.01", 1, 0.01, devices=64),
)


@dataclass
class Run:
    bare: tuple[float, float]  # records/s, us CPU per record
    detector: tuple[float, float]
    flagged: float  # share of readings the detector flagged
    tuned: tuple[float, float] | None = None  # the bare consumer with serve's GC settings
    other: tuple[float, float] | None = None  # the detector of the --compare checkout


def detector(model: Path, topic: str, count: int, scratch: Scratch, batch_size: int,
             partitions: int, client: str, checkout: Path | None = None
             ) -> tuple[float, float, float, str]:
    """Records/s of `detector serve` from ready to its committed offsets at the end, its CPU
    microseconds per record over that time (all threads), the share it flagged, its command."""
    group = scratch.group()
    with serve(model, topic, group, scratch, "--batch-size", str(batch_size),
               "--kafka-client", client, partitions=partitions, checkout=checkout) as process:
        process.wait_for(process.ready, "ready", every=0.02)
        started, cpu = time.perf_counter(), process.cpu()
        process.wait_for(lambda: scratch.committed(group, topic) >= count,
                         "the committed offsets to reach the end", timeout=900, every=0.05)
        elapsed, cpu = time.perf_counter() - started, process.cpu() - cpu
        samples = process.metrics()
        code = process.stop()
    if code != 0:
        raise SystemExit(f"detector exited {code}:\n{process.log[-3000:]}")
    events = sum(v for (name, _), v in samples.items() if name == "detector_anomalies_total")
    return count / elapsed, cpu / count * 1e6, events / count, process.shown


def spread(values: list[float], digits: int = 0) -> str:
    """Median and range."""
    return (f"{statistics.median(values):,.{digits}f} "
            f"({min(values):,.{digits}f}-{max(values):,.{digits}f})")


def prepare(scratch: Scratch, cases: list[Case], count: int, models: dict[bool, Path]
            ) -> dict[str, str]:
    """A filled topic per case."""
    topics = {}
    for case in cases:
        topic = scratch.topic("readings", case.partitions)
        seconds = fill(topic, count, partitions=case.partitions, anomaly_rate=case.anomaly_rate,
                       devices=case.devices)
        assert written(topic) == count
        print(f"case {case.key}: filled {topic} ({case.partitions} partition(s), anomaly rate "
              f"{case.anomaly_rate}) with {count:,} readings in {seconds:.1f} s", flush=True)
        topics[case.key] = topic
    if any(c.windowed for c in cases):
        models[True] = train_bundle(models[False].parent / "windowed", "--simulate", "20000",
                                    "--epochs", "20", "--seed", "0", *WINDOWED)
    return topics


def report(cases: list[Case], runs: dict[tuple[str, str], list[Run]], commands: dict[str, str],
           clients: list[str]) -> None:
    """The commands, a table per run and the summary of each case."""
    print()
    for key, command in commands.items():
        print(f"{key}: {command}")
    rows = []
    for (key, client), rs in runs.items():
        for i, r in enumerate(rs, 1):
            rows.append((key, client, i, f"{r.bare[0]:,.0f} / {r.bare[1]:.1f}",
                         f"{r.detector[0]:,.0f} / {r.detector[1]:.1f}", f"{r.flagged:.2%}",
                         f"{r.detector[0] / r.bare[0]:.2f}", f"{r.bare[1] / r.detector[1]:.2f}",
                         *compared(r)))
    print()
    print(table(rows, ("case", "client", "run", "bare: records/s / us CPU each",
                       "detector serve: readings/s / us CPU each", "flagged",
                       "wall ratio", "CPU ratio",
                       *(("--compare: readings/s / us CPU each", "its wall ratio", "its CPU ratio")
                         if any(r.other for rs in runs.values() for r in rs) else ()))))
    rows = []
    for case, client in ((c, k) for c in cases for k in clients):
        rs = runs[case.key, client]
        wall = [r.detector[0] / r.bare[0] for r in rs]
        rows.append((case.key, client, case.what,
                     f"{statistics.median(r.flagged for r in rs):.2%}",
                     spread([r.bare[0] for r in rs]), spread([r.detector[0] for r in rs]),
                     spread(wall, 2), spread([r.bare[1] / r.detector[1] for r in rs], 2),
                     "met" if statistics.median(wall) >= 0.8 else "NOT met"))
    print()
    print(table(rows, ("case", "client", "what", "flagged", "bare readings/s",
                       "detector readings/s",
                       "detector / bare, wall", "CPU per reading, bare / detector",
                       "wall >= 0.8")))
    tuned = [(r.tuned, r.detector) for r in runs.get(("a", clients[0]), []) if r.tuned]
    if tuned:
        print(f"\ncase a ({clients[0]}) against the bare consumer with serve's GC settings: "
              f"{spread([t[0] for t, _ in tuned])} records/s; detector / it, wall "
              f"{spread([d[0] / t[0] for t, d in tuned], 2)}, CPU "
              f"{spread([t[1] / d[1] for t, d in tuned], 2)}")


def compared(run: Run) -> tuple[str, ...]:
    """The --compare checkout's figures of a run, if it was timed."""
    if run.other is None:
        return ()
    rate, cpu = run.other
    return (f"{rate:,.0f} / {cpu:.1f}", f"{rate / run.bare[0]:.2f}", f"{run.bare[1] / cpu:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=5000, help="the daemon's default")
    parser.add_argument("--cases", default=",".join(c.key for c in CASES))
    parser.add_argument("--kafka-clients", default="kafka-python")
    parser.add_argument("--compare", type=Path, help="another checkout's detector, timed too")
    args = parser.parse_args()
    wanted, clients = args.cases.split(","), args.kafka_clients.split(",")
    cases = [c for c in CASES if c.key in wanted]
    print(f"load average at the start {os.getloadavg()} on {os.cpu_count()} cores", flush=True)
    runs: dict[tuple[str, str], list[Run]] = {(c.key, k): [] for c in cases for k in clients}
    commands: dict[str, str] = {}
    with workbench() as (scratch, model, _):
        models = {False: model}
        topics = prepare(scratch, cases, args.count, models)
        for repeat in range(1, args.repeats + 1):
            for case, client in ((c, k) for c in cases for k in clients):
                topic, n = topics[case.key], case.partitions
                plain = bare_command(topic, args.count, n, args.batch_size, kafka_client=client)
                base = run_bare(plain)
                tuned = None
                if case.key == "a" and client == clients[0]:
                    tuned = run_bare(bare_command(topic, args.count, n, args.batch_size,
                                                  collect_rarely=True, kafka_client=client))
                timed = {}  # with --compare the checkouts take turns at going first
                checkouts = [None, *([args.compare] if args.compare else [])]
                for checkout in checkouts[:: 1 if repeat % 2 else -1]:
                    timed[checkout] = detector(models[case.windowed], topic, args.count,
                                               scratch, args.batch_size, n, client, checkout)
                rate, cpu, flagged, command = timed[None]
                other = timed[args.compare][:2] if args.compare else None
                runs[case.key, client].append(Run(base, (rate, cpu), flagged, tuned, other))
                commands.setdefault(f"bare consumer, case {case.key}, {client}",
                                    shlex.join(plain))
                commands.setdefault(f"detector, case {case.key}, {client}", command)
                print(f"repeat {repeat} case {case.key} {client}: bare {base[0]:,.0f}/s "
                      f"({base[1]:.1f} us CPU/record), detector {rate:,.0f}/s ({cpu:.1f} us), "
                      f"ratio {rate / base[0]:.2f}; flagged {flagged:.2%}; "
                      + (f"--compare {other[0]:,.0f}/s ({other[1]:.1f} us), ratio "
                         f"{other[0] / base[0]:.2f}; " if other else "") + "load average "
                      f"{os.getloadavg()[0]:.1f}", flush=True)
    report(cases, runs, commands, clients)
    print(f"\nload average at the end {os.getloadavg()} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
