"""Lag while a challenger trains: the detector's broker -> detection lag at a steady rate, first
with no retrainer, then with `detector retrain` training challengers back to back (same run).

    .venv/bin/python -m bench.performance.retrain_lag [--rate 1000] [--seconds 60]
        [--devices 8] [--anomaly-rate 0.01]

One fresh one-partition readings topic with the broker's append time (LogAppendTime), one
`detector serve` on it. Phase A: `producer simulate --rate R` for the given time. Then
`detector retrain` starts in a group of its own on a copy of the model (every 20 readings per
device: it trains whenever its child is free; it reads the detector's anomaly events too) and,
once it has read phase A's readings and reports a challenger in training, phase B runs the same
producer again. The lag of each anomaly
event is its detection time minus its reading's broker append time; the figure is phase B's p99
over phase A's (target: at most 2), with the share of phase B during which a challenger was
training.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import orjson

from bench.common import table
from bench.performance.harness import BOOTSTRAP, serve, workbench
from bench.performance.latency import BROKER_TIME, read_all, row
from tests.helpers import REPO
from tests.helpers.processes import DetectorProcess, producer_command


def produce(topic: str, rate: float, count: int, devices: int, anomaly_rate: float,
            seed: int) -> tuple[list[str], float]:
    """Run the producer CLI to the end; its command and the rate it kept."""
    import subprocess

    command = producer_command(BOOTSTRAP, topic, count=count, rate=rate, devices=devices,
                               anomaly_rate=anomaly_rate, seed=seed)
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    return command, count / (time.perf_counter() - started)


def lags_by_phase(anomalies: str, readings: str, split: int) -> tuple[np.ndarray, np.ndarray]:
    """Broker -> detection lag (s) of the events of readings before offset `split`, and after."""
    appended = {r.offset: r.timestamp / 1000 for r in read_all(readings)}
    first, second = [], []
    for record in read_all(anomalies):
        event = orjson.loads(record.value)
        offset = int(event["event_id"].rsplit(":", 1)[1])
        (first if offset < split else second).append(event["detected_at"] - appended[offset])
    return np.array(first), np.array(second)


class Watch:
    """Samples the retrainer's /healthz every 0.2 s: the share of samples with a challenger in
    training."""

    def __init__(self, retrainer: DetectorProcess) -> None:
        self.retrainer = retrainer
        self.samples: list[bool] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stopping.wait(0.2):
            with contextlib.suppress(OSError):
                self.samples.append(bool(self.retrainer.healthz()[1].get("training")))

    def share(self) -> float:
        return sum(self.samples) / max(1, len(self.samples))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--anomaly-rate", type=float, default=0.01)
    args = parser.parse_args()
    count = int(args.rate * args.seconds)
    with workbench(configs=BROKER_TIME) as (scratch, model, topic):
        copy = Path(shutil.copytree(model, model.parent / "retrainer-model"))
        with serve(model, topic, scratch.group(), scratch) as detector:
            detector.wait_for(detector.ready, "ready")
            print(f"phase A: {count:,} readings at {args.rate:,.0f}/s, no retrainer", flush=True)
            producer, kept_a = produce(topic, args.rate, count, args.devices, args.anomaly_rate, 1)
            detector.wait_records(count * 0.99, timeout=600)
            retrain = ["--model", str(copy), "--bootstrap", BOOTSTRAP, "--topic", topic,
                       "--group", scratch.group("retrainer"), "--metrics-port", "0",
                       "--metrics-host", "127.0.0.1", "--retrain-every", "20",
                       "--offset-reset", "earliest",
                       "--anomalies-topic", detector.topics.anomalies]
            with DetectorProcess(retrain, command="retrain") as retrainer:
                group = retrain[retrain.index("--group") + 1]
                retrainer.wait_for(lambda: scratch.committed(group, topic) >= count
                                   and retrainer.healthz()[1].get("training"),
                                   "the retrainer caught up, a challenger in training", 600)
                watch = Watch(retrainer)
                watch.thread.start()
                print("phase B: the same while challengers train", flush=True)
                _, kept_b = produce(topic, args.rate, count, args.devices, args.anomaly_rate, 2)
                detector.wait_records(2 * count * 0.99, timeout=600)
                watch.stopping.set()
                cycles = retrainer.sample("detector_retrain_duration_seconds_count") or 0
                retrainer.stop(timeout=120)
            load = os.getloadavg()[0]
            detector.stop()
        a, b = lags_by_phase(detector.topics.anomalies, topic, count)
    print(f"\nproducer: {shlex.join(producer)} (seed 1, then 2)")
    print(f"detector: {detector.shown}")
    print(f"retrainer: {shlex.join(retrainer.command)}")
    print(f"the producer kept {kept_a:,.0f} / {kept_b:,.0f} readings/s; {len(a):,} / {len(b):,} "
          f"anomaly events; a challenger was training {watch.share():.0%} of phase B "
          f"({cycles:.0f} cycle(s) ended); load average {load:.1f} on {os.cpu_count()} cores\n")
    print(table([row("A: no retrainer, broker -> detection", a),
                 row("B: challengers training, broker -> detection", b)],
                ("lag", "p50 ms", "p99 ms", "max ms")))
    ratio = float(np.percentile(b, 99)) / float(np.percentile(a, 99))
    print(f"\nlag ratio: p99 while training / p99 without = {ratio:.2f} "
          f"(target <= 2: {'met' if ratio <= 2 else 'NOT met'})")


if __name__ == "__main__":
    sys.exit(main())
