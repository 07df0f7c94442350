"""Where the serve loop's time goes: CPU per reading of each stage, beside a bare consumer's.

    .venv/bin/python -m bench.performance.stages [--count 200000] [--kafka-client confluent]
        [--storm] [--windowed] [--model BUNDLE] [--max-records 5000] [--profile FILE]
        [--rate READINGS_PER_S --partitions 4] [--fetch MIN_BYTES,WAIT_MS]

Fills a fresh one-partition topic (as throughput.py's case a, or with --storm its case s), times the
bare consumer of the same library on it (bare_consumer.py), then runs the serve loop in this process
on the same topic with the same fetch settings, each stage wrapped in a timer: the client's poll,
decoding, windows and flags, scoring, the events, the dead letters, the labels, the outbox, the
metrics, settling (acknowledgements and commits). It prints each stage's CPU microseconds per
reading consumed in the loop's thread and its wall time, the loop thread's and the process's total,
and the bare consumer's CPU per record (all its threads): what the loop adds to the client. It ends
when the loop has consumed `--count` readings, as the bare consumer does; with a windowed model each
device's first window - 1 of them only fill its window (it says how many readings were scored). The
first batch (start-up, the group's join) is left out. The timers cost about 0.1 us a reading
themselves. `--max-records` caps a poll's batch (the same cap on the bare consumer): with small
batches the figures per batch are the loop's fixed cost of a batch, which dominates at moderate
rates. `--profile FILE` also writes a cProfile of the loop (no timers). `--rate` leaves the topic
empty (of `--partitions` partitions) and has `producer simulate` offer `--count` readings at that
rate while the loop runs, as the scale-out bench does: the batches are then as the broker's fetches
make them (no bare consumer is timed).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import os
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from prometheus_client import CollectorRegistry

import detector.stream.daemon as loop_module
from bench.common import table
from bench.performance.harness import BOOTSTRAP, Scratch, bare_command, fill, run_bare, train
from detector.cli.serve import collect_rarely, consumer_settings
from detector.stream.daemon import Daemon
from detector.stream.metrics import Metrics
from detector.stream.reloader import load_model
from detector.stream.settings import Options, Topics
from shared.kafka_client import Connection
from tests.helpers import REPO
from tests.helpers.bundles import train_bundles
from tests.helpers.processes import producer_command

SPENT: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # stage -> [wall s, CPU s]


def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function`, adding its wall and thread CPU time to SPENT[name]."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent = SPENT[name]
            spent[0] += time.perf_counter() - wall
            spent[1] += time.thread_time() - cpu

    return wrapper


def instrument(daemon: Daemon) -> None:
    """Wrap each stage of the loop in a timer."""
    model, memory = daemon.model, daemon.memory
    daemon.consumer.poll = timed("poll (the client)", daemon.consumer.poll)  # type: ignore
    model.decoder.decode = timed("decode and validate", model.decoder.decode)  # type: ignore
    memory.windows = timed("windows", memory.windows)  # type: ignore
    memory.flags = timed("flags (persistence)", memory.flags)  # type: ignore
    model.scorer.score = timed("score", model.scorer.score)  # type: ignore
    for name, stage in (("event_messages", "events"), ("dead_letter_messages", "dead letters"),
                        ("labels_of", "labels")):
        setattr(loop_module, name, timed(stage, getattr(loop_module, name)))
    daemon.outbox.submit = timed("outbox: send", daemon.outbox.submit)  # type: ignore
    daemon.metrics.record_batch = timed("metrics", daemon.metrics.record_batch)  # type: ignore
    daemon.settle = timed("settle: acks, commits", daemon.settle)  # type: ignore
    daemon.outbox.done = timed("  of which acks", daemon.outbox.done)  # type: ignore
    daemon.offsets.commit_async = timed("  of which commits",  # type: ignore
                                        daemon.offsets.commit_async)
    daemon.consumer.assignment = timed("assignment", daemon.consumer.assignment)  # type: ignore
    daemon.warmup.assigned = timed("warm-up check", daemon.warmup.assigned)  # type: ignore
    daemon.backpressure.apply = timed("backpressure", daemon.backpressure.apply)  # type: ignore
    daemon.upkeep.tick = timed("upkeep: lag probe, collection", daemon.upkeep.tick)  # type: ignore
    daemon.process = timed("process (all of a batch)", daemon.process)  # type: ignore


def daemon_on(topic: str, scratch: Scratch, model: Path, client: str,
              max_records: int = Options.max_records, fetch: tuple[int, int] | None = None
              ) -> Daemon:
    """A serve loop on `topic` with `client`'s source and sink, serve's fetch settings (`fetch`:
    (fetch_min_bytes, fetch_wait_ms) instead of serve's default)."""
    if client == "confluent":
        from detector.brokers.confluent_clients import open_sink, open_source
    else:
        from detector.brokers.kafka_clients import open_sink, open_source  # type: ignore
    from detector.brokers.kafka_clients import ensure_topics

    connection = Connection(BOOTSTRAP)
    topics = Topics(topic, scratch.name("anomalies"), scratch.name("dlq"))
    ensure_topics(connection, "", {topics.anomalies: 1, topics.dlq: 1}, 1)
    source = open_source(connection, "", scratch.group(), "stages", "earliest",
                         consumer_settings(max_records, *(fetch or ())), 300_000)
    return Daemon(source, open_sink(connection, "", "stages"), load_model(model),
                  Metrics(CollectorRegistry()), topics, Options(max_records=max_records))


class Processed:
    """The loop's `process`, counting the batches it is handed and the records in them."""

    def __init__(self, process: Callable[..., Any]) -> None:
        self.process = process
        self.batches = 0
        self.records = 0

    def __call__(self, batch: Any) -> Any:
        self.batches += 1
        self.records += sum(map(len, batch.values()))
        return self.process(batch)


class Offer:
    """`producer simulate` offering readings at a rate in the background (nothing when 0)."""

    def __init__(self, topic: str, rate: float, count: int, anomaly_rate: float,
                 devices: int) -> None:
        self.command = producer_command(BOOTSTRAP, topic, count=count, rate=rate,
                                        anomaly_rate=anomaly_rate, devices=devices)
        self.rate = rate
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        if self.rate:
            self.process = subprocess.Popen(self.command, cwd=REPO, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def run(daemon: Daemon, count: int, profile: Path | None, offer: Offer
        ) -> tuple[int, int, int, float, float, float]:
    """Readings consumed after the first batch, how many of them were scored, the batches they
    came in, and the wall, process CPU and thread CPU seconds they took. It ends after `count`
    readings consumed, not scored: a windowed model scores none of a device's first window - 1
    readings, so `count` scored readings might never come."""
    collect_rarely()
    processed = Processed(daemon.process)
    daemon.process = processed  # type: ignore[method-assign]
    daemon.join()
    while offer.rate and not daemon.partitions:
        daemon.step()
    offer.start()
    while not processed.batches:
        daemon.step()
    for spent in SPENT.values():
        spent[:] = [0.0, 0.0]
    first, scored, batches = processed.records, daemon.scored, processed.batches
    profiler = cProfile.Profile() if profile else None
    wall, cpu, thread = time.perf_counter(), time.process_time(), time.thread_time()
    if profiler is not None:
        profiler.enable()
    while processed.records < count:
        daemon.step()
    daemon.settle(closing=True)  # the last acknowledgements and commit
    if profiler is not None:
        profiler.disable()
    spent = (time.perf_counter() - wall, time.process_time() - cpu, time.thread_time() - thread)
    if profiler is not None and profile is not None:
        profiler.dump_stats(profile)
    return (processed.records - first, daemon.scored - scored, processed.batches - batches,
            *spent)


def report(n: int, scored: int, batches: int, wall: float, cpu: float, thread: float,
           bare_rate: float, bare_cpu: float) -> None:
    """Each stage's CPU and wall time per reading consumed and per batch, beside the bare
    consumer's."""
    if not n:
        print("\nall the readings came in the first batch, which is left out: raise --count "
              "or lower --max-records")
        return
    per = n / batches
    rows = [(stage, f"{c / n * 1e6:.2f}", f"{w / n * 1e6:.2f}", f"{c / batches * 1e6:.1f}")
            for stage, (w, c) in sorted(SPENT.items(), key=lambda kv: -kv[1][1])]
    rows += [("the loop's thread, all of it", f"{thread / n * 1e6:.2f}", f"{wall / n * 1e6:.2f}",
              f"{thread / batches * 1e6:.1f}"),
             ("the process, all threads", f"{cpu / n * 1e6:.2f}", "",
              f"{cpu / batches * 1e6:.1f}"),
             ("bare consumer, all threads", f"{bare_cpu:.2f}", f"{1e6 / bare_rate:.2f}", "")]
    print(f"\n{n:,} readings ({scored:,} scored) after the first batch in {batches:,} batches "
          f"({per:,.1f} a batch): "
          f"{n / wall:,.0f} readings/s in the loop, the bare consumer {bare_rate:,.0f}/s")
    print(table(rows, ("stage", "us CPU per reading", "us wall per reading",
                       "us CPU per batch")))
    print(f"\nthe process's CPU per reading / the bare consumer's: {cpu / n * 1e6 / bare_cpu:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--kafka-client", choices=("kafka-python", "confluent"),
                        default="confluent")
    parser.add_argument("--storm", action="store_true", help="64 devices, anomaly rate 0.01")
    parser.add_argument("--windowed", action="store_true", help="window 20, persistence 5/10")
    parser.add_argument("--model", type=Path, help="a bundle to serve (default: one trained now)")
    parser.add_argument("--max-records", type=int, default=Options.max_records,
                        help="records per poll at most (the loop's and the bare consumer's)")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="offer the readings at this rate while the loop runs (0: fill first)")
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--fetch", type=lambda v: tuple(int(x) for x in v.split(",")),
                        help="MIN_BYTES,WAIT_MS of the loop's consumer (default: serve's)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the loop here "
                        "(without the stage timers)")
    args = parser.parse_args()
    print(f"load average at the start {os.getloadavg()} on {os.cpu_count()} cores", flush=True)
    with TemporaryDirectory() as tmp, Scratch() as scratch:
        model = args.model or (
            train_bundles([(Path(tmp) / "windowed", (
                "--simulate", "20000", "--epochs", "20", "--seed", "0", "--window", "20",
                "--persistence", "5/10"))])[0]
            if args.windowed else train(Path(tmp) / "model"))
        topic = scratch.topic("readings", args.partitions)
        anomaly_rate, devices = (0.01, 64) if args.storm else (0.002, 100)
        if args.rate:
            bare, bare_rate, bare_cpu = [], float("nan"), float("nan")
        else:
            fill(topic, args.count, anomaly_rate=anomaly_rate, devices=devices)
            bare = bare_command(topic, args.count, batch_size=args.max_records,
                                kafka_client=args.kafka_client)
            bare_rate, bare_cpu = run_bare(bare)
        daemon = daemon_on(topic, scratch, model, args.kafka_client, args.max_records,
                           args.fetch)
        if not args.profile:
            instrument(daemon)
        offer = Offer(topic, args.rate, args.count, anomaly_rate, devices)
        try:
            figures = run(daemon, args.count, args.profile, offer)
        finally:
            daemon.close()
            offer.stop()
    print(f"\n{args.kafka_client}, at most {args.max_records} records a poll"
          + (f", {args.rate:,.0f} readings/s offered" if args.rate else ""))
    report(*figures, bare_rate, bare_cpu)
    print(f"bare consumer: {' '.join(bare)}" if bare else f"offered: {' '.join(offer.command)}")
    print(f"load average at the end {os.getloadavg()} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
