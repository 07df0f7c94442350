"""Where the serve loop's time goes: CPU per reading of each stage, beside a bare consumer's.

    .venv/bin/python -m bench.performance.stages [--count 200000] [--kafka-client confluent]
        [--storm] [--windowed] [--model BUNDLE]

Fills a fresh one-partition topic (as throughput.py's case a, or with --storm its case s), times
the bare consumer of the same library on it (bare_consumer.py), then runs the serve loop in this
process on the same topic with the same fetch settings, each stage wrapped in a timer: the
client's poll, decoding, windows and flags, scoring, the events, the dead letters, the labels,
the outbox, the metrics, settling (acknowledgements and commits). It prints each stage's CPU
microseconds per reading in the loop's thread and its wall time, the loop thread's and the
process's total, and the bare consumer's CPU per record (all its threads): what the loop adds to
the client. The first batch (start-up, the group's join) is left out. The timers cost about
0.1 us a reading themselves.
"""

from __future__ import annotations

import argparse
import functools
import os
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
from tests.helpers.bundles import train_bundle

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
    daemon.process = timed("process (all of a batch)", daemon.process)  # type: ignore


def daemon_on(topic: str, scratch: Scratch, model: Path, client: str) -> Daemon:
    """A serve loop on `topic` with `client`'s source and sink, serve's fetch settings."""
    if client == "confluent":
        from detector.brokers.confluent_clients import open_sink, open_source
    else:
        from detector.brokers.kafka_clients import open_sink, open_source  # type: ignore
    from detector.brokers.kafka_clients import ensure_topics

    connection = Connection(BOOTSTRAP)
    topics = Topics(topic, scratch.name("anomalies"), scratch.name("dlq"))
    ensure_topics(connection, "", {topics.anomalies: 1, topics.dlq: 1}, 1)
    source = open_source(connection, "", scratch.group(), "stages", "earliest",
                         consumer_settings(Options.max_records), 300_000)
    return Daemon(source, open_sink(connection, "", "stages"), load_model(model),
                  Metrics(CollectorRegistry()), topics, Options())


def run(daemon: Daemon, count: int) -> tuple[int, float, float, float]:
    """Readings scored after the first batch, and the wall, process CPU and thread CPU seconds
    they took."""
    collect_rarely()
    daemon.join()
    while not daemon.scored:
        daemon.step()
    for spent in SPENT.values():
        spent[:] = [0.0, 0.0]
    first = daemon.scored
    wall, cpu, thread = time.perf_counter(), time.process_time(), time.thread_time()
    while daemon.scored + daemon.rejected < count:
        daemon.step()
    daemon.settle(closing=True)  # the last acknowledgements and commit
    return (daemon.scored - first, time.perf_counter() - wall, time.process_time() - cpu,
            time.thread_time() - thread)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--kafka-client", choices=("kafka-python", "confluent"),
                        default="confluent")
    parser.add_argument("--storm", action="store_true", help="64 devices, anomaly rate 0.01")
    parser.add_argument("--windowed", action="store_true", help="window 20, persistence 5/10")
    parser.add_argument("--model", type=Path, help="a bundle to serve (default: one trained now)")
    args = parser.parse_args()
    print(f"load average at the start {os.getloadavg()} on {os.cpu_count()} cores", flush=True)
    with TemporaryDirectory() as tmp, Scratch() as scratch:
        model = args.model or (
            train_bundle(Path(tmp) / "windowed", "--simulate", "20000", "--epochs", "20",
                         "--seed", "0", "--window", "20", "--persistence", "5/10")
            if args.windowed else train(Path(tmp) / "model"))
        topic = scratch.topic("readings")
        fill(topic, args.count, anomaly_rate=0.01 if args.storm else 0.002,
             devices=64 if args.storm else 100)
        bare = bare_command(topic, args.count, kafka_client=args.kafka_client)
        bare_rate, bare_cpu = run_bare(bare)
        daemon = daemon_on(topic, scratch, model, args.kafka_client)
        instrument(daemon)
        try:
            n, wall, cpu, thread = run(daemon, args.count)
        finally:
            daemon.close()
    rows = [(stage, f"{c / n * 1e6:.2f}", f"{w / n * 1e6:.2f}")
            for stage, (w, c) in sorted(SPENT.items(), key=lambda kv: -kv[1][1])]
    rows += [("the loop's thread, all of it", f"{thread / n * 1e6:.2f}", f"{wall / n * 1e6:.2f}"),
             ("the process, all threads", f"{cpu / n * 1e6:.2f}", ""),
             ("bare consumer, all threads", f"{bare_cpu:.2f}", f"{1e6 / bare_rate:.2f}")]
    print(f"\n{args.kafka_client}, {n:,} readings after the first batch: {n / wall:,.0f} "
          f"readings/s in the loop, the bare consumer {bare_rate:,.0f}/s")
    print(table(rows, ("stage", "us CPU per reading", "us wall per reading")))
    print(f"\nthe process's CPU per reading / the bare consumer's: {cpu / n * 1e6 / bare_cpu:.2f}")
    print(f"bare consumer: {' '.join(bare)}")
    print(f"load average at the end {os.getloadavg()} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
