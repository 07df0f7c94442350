"""Latency: the event lag (detection time - reading ts) with the producer at a steady rate.

    .venv/bin/python -m bench.performance.latency [--rate 5000] [--seconds 60] [--devices 100]
        [--fetch-min-bytes 1] [--fetch-wait-ms 500] [--kafka-client kafka-python|confluent]

Starts `detector serve` on a fresh one-partition topic, waits until it is ready, then runs
`producer simulate --rate R` for the given time (the producer stamps each reading's `ts` as it
sends it). Reports p50 / p99 / max of the lag:

- from the anomaly events (`detected_at - ts`, exact, for the flagged readings), split at the
  broker: the readings topic keeps the broker's append time (LogAppendTime), so each event's
  lag is producer -> broker plus broker -> detection;
- from the detector's `detector_event_lag_seconds` histogram (every reading, interpolated within
  buckets as Prometheus's histogram_quantile does);
- the baseline, run after it on a second fresh topic with the same producer: a bare consumer of
  the same client library (bench/performance/bare_consumer.py --lag --kafka-client), broker ->
  poll for every record.

`--fetch-min-bytes` and `--fetch-wait-ms` go to the detector only (`detector serve`'s options of
those names), to show what holding fetches costs in lag; the baseline keeps Kafka's lowest-lag
fetch. Targets (for the defaults): p99 <= 50 ms; the lag ratio, the detector's broker ->
detection p99 over the bare consumer's broker -> poll p99, at most 2.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import time

import numpy as np
import orjson
from kafka import KafkaConsumer, TopicPartition

from bench.common import table
from bench.performance.harness import BOOTSTRAP, bare_command, serve, workbench
from tests.helpers import REPO
from tests.helpers.processes import producer_command

LAG = "detector_event_lag_seconds"
BROKER_TIME = {"message.timestamp.type": "LogAppendTime"}


def read_all(topic: str) -> list:
    """Every record of a one-partition topic."""
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             max_partition_fetch_bytes=8 * 1024 * 1024)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    end = consumer.end_offsets([tp])[tp]
    out: list = []
    try:
        while consumer.position(tp) < end:
            for records in consumer.poll(timeout_ms=1000).values():
                out += records
    finally:
        consumer.close()
    return out


def event_lags(anomalies: str, readings: str) -> tuple[np.ndarray, np.ndarray]:
    """Per event: (broker append time - ts, detected_at - broker append time), in seconds."""
    appended = {r.offset: r.timestamp / 1000 for r in read_all(readings)}
    before, after = [], []
    for record in read_all(anomalies):
        event = orjson.loads(record.value)
        at = appended[int(event["event_id"].rsplit(":", 1)[1])]
        before.append(at - event["ts"])
        after.append(event["detected_at"] - at)
    return np.array(before), np.array(after)


def histogram(samples: dict[tuple[str, frozenset], float],
              name: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of a histogram among the samples of /metrics."""
    buckets = sorted((float(dict(labels)["le"]), value) for (sample, labels), value
                     in samples.items() if sample == f"{name}_bucket")
    if not buckets:
        raise SystemExit(f"{name} is not in /metrics")
    return buckets


def quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """Prometheus's histogram_quantile: linear within the bucket that holds the rank."""
    rank, lower, below = q * buckets[-1][1], 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = upper, count
    return lower


def row(what: str, seconds: np.ndarray) -> tuple[str, str, str, str]:
    """p50, p99 and max in milliseconds."""
    ms = seconds * 1000
    return (what, f"{np.percentile(ms, 50):.1f}", f"{np.percentile(ms, 99):.1f}",
            f"{ms.max():.1f}")


def produce(topic: str, rate: float, count: int, devices: int) -> tuple[list[str], float]:
    """Run the producer CLI to the end; its command and the rate it kept."""
    command = producer_command(BOOTSTRAP, topic, count=count, rate=rate, devices=devices)
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    return command, count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--fetch-min-bytes", type=int, default=1)
    parser.add_argument("--fetch-wait-ms", type=int, default=500)
    parser.add_argument("--kafka-client", choices=("kafka-python", "confluent"),
                        default="kafka-python", help="of the detector and of the baseline")
    args = parser.parse_args()
    fetch = ["--fetch-min-bytes", str(args.fetch_min_bytes), "--fetch-wait-ms",
             str(args.fetch_wait_ms), "--kafka-client", args.kafka_client]
    count = int(args.rate * args.seconds)
    with workbench(configs=BROKER_TIME) as (scratch, model, topic):
        group = scratch.group()
        with serve(model, topic, group, scratch, *fetch) as detector:
            detector.wait_for(detector.ready, "ready")
            print(f"detector: producing {count:,} readings at {args.rate:,.0f}/s ...", flush=True)
            cpu, started = detector.cpu(), time.perf_counter()
            producer, kept = produce(topic, args.rate, count, args.devices)
            detector.wait_for(lambda: scratch.committed(group, topic) >= count,
                              "every reading to be committed", timeout=600)
            cpu = (detector.cpu() - cpu) / (time.perf_counter() - started)
            load = os.getloadavg()[0]
            buckets = histogram(detector.metrics(), LAG)
            detector.stop()
        before, after = event_lags(detector.topics.anomalies, topic)
        print("baseline: a bare consumer with the same producer ...", flush=True)
        second = scratch.topic("readings", configs=BROKER_TIME)
        bare = [*bare_command(second, count, kafka_client=args.kafka_client), "--lag"]
        consumer = subprocess.Popen(bare, cwd=REPO, stdout=subprocess.PIPE, text=True)
        time.sleep(3)  # let it connect
        _, kept_bare = produce(second, args.rate, count, args.devices)
        p50, p99, top = (float(x) / 1000 for x in consumer.communicate(timeout=600)[0].split()[1:])
    print(f"\nproducer: {shlex.join(producer)}")
    print(f"detector: {detector.shown}")
    print(f"baseline: {shlex.join(bare)}")
    print(f"the producer kept {kept:,.0f} readings/s ({kept_bare:,.0f}/s for the baseline); "
          f"{len(before):,} anomaly events")
    print(f"the detector used {cpu:.0%} of a core meanwhile; load average {load:.1f} on "
          f"{os.cpu_count()} cores (a loaded machine delays every process's wake-ups)\n")
    rows = [
        row("detector, events: detected_at - ts", before + after),
        row("  of which producer -> broker", before),
        row("  of which broker -> detection", after),
        (f"detector, {LAG} (all {int(buckets[-1][1]):,} readings)",
         f"{quantile(buckets, 0.5) * 1000:.1f}", f"{quantile(buckets, 0.99) * 1000:.1f}", "-"),
        (f"baseline: bare {args.kafka_client} consumer, broker -> poll", f"{p50 * 1000:.1f}",
         f"{p99 * 1000:.1f}", f"{top * 1000:.1f}"),
    ]
    print(table(rows, ("lag", "p50 ms", "p99 ms", "max ms")))
    total = float(np.percentile(before + after, 99))
    print(f"\np99 {total * 1000:.1f} ms (target <= 50 ms: {'met' if total <= 0.05 else 'NOT met'})")
    ratio = float(np.percentile(after, 99)) / p99
    print(f"lag ratio: the detector's broker -> detection p99 / the bare consumer's broker -> "
          f"poll p99 = {ratio:.2f} (target <= 2: {'met' if ratio <= 2 else 'NOT met'})")


if __name__ == "__main__":
    main()
