"""Lag while a challenger trains: the detector's broker -> detection lag at a steady rate, first
with no retrainer, then with `detector retrain` training challengers back to back (same run).

    .venv/bin/python -m bench.performance.retrain_lag [--rate 1000] [--seconds 60]
        [--devices 8] [--anomaly-rate 0.01] [--rounds 1]

One fresh one-partition readings topic with the broker's append time (LogAppendTime), one
`detector serve` on it. Phase A: `producer simulate --rate R` for the given time. Then
`detector retrain` starts in a group of its own on a copy of the model (every 20 readings per
device: it trains whenever its child is free; it reads the detector's anomaly events too) and,
once it has read phase A's readings and reports a challenger in training, phase B runs the same
producer again; then the retrainer stops. With `--rounds N` the two phases alternate N times
(A B A B ...), so that a change in the machine's load between phases shows. The lag of each
anomaly event is its detection time minus its reading's broker append time; the figure is phase
B's p99 over phase A's (target: at most 2), each round's and all rounds' together, with the share
of phase B during which a challenger was training.
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
from bench.performance.harness import BOOTSTRAP, Scratch, serve, workbench
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


def lags_by_phase(anomalies: str, readings: str, count: int, phases: int) -> list[np.ndarray]:
    """Broker -> detection lag (s) of the events of each phase's readings (`count` offsets each,
    the phases in order)."""
    appended = {r.offset: r.timestamp / 1000 for r in read_all(readings)}
    lags: list[list[float]] = [[] for _ in range(phases)]
    for record in read_all(anomalies):
        event = orjson.loads(record.value)
        offset = int(event["event_id"].rsplit(":", 1)[1])
        lags[min(offset // count, phases - 1)].append(event["detected_at"] - appended[offset])
    return [np.array(phase) for phase in lags]


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


def phase_b(detector: DetectorProcess, scratch: Scratch, copy: Path, topic: str, count: int,
            args: argparse.Namespace, seed: int) -> tuple[DetectorProcess, float, float]:
    """A retrainer started and caught up with a challenger in training, the producer's phase B
    run, the retrainer stopped: (the retrainer, the share of B with a challenger in training,
    the cycles it ended)."""
    retrain = ["--model", str(copy), "--bootstrap", BOOTSTRAP, "--topic", topic,
               "--group", scratch.group("retrainer"), "--metrics-port", "0",
               "--metrics-host", "127.0.0.1", "--retrain-every", "20",
               "--offset-reset", "earliest", "--anomalies-topic", detector.topics.anomalies]
    with DetectorProcess(retrain, command="retrain") as retrainer:
        group = retrain[retrain.index("--group") + 1]
        retrainer.wait_for(lambda: scratch.committed(group, topic) >= (seed - 1) * count
                           and retrainer.healthz()[1].get("training"),
                           "the retrainer caught up, a challenger in training", 600)
        watch = Watch(retrainer)
        watch.thread.start()
        print(f"phase B (load {os.getloadavg()[0]:.1f}): the same while challengers train",
              flush=True)
        produce(topic, args.rate, count, args.devices, args.anomaly_rate, seed)
        detector.wait_records(seed * count * 0.99, timeout=600)
        watch.stopping.set()
        cycles = retrainer.sample("detector_retrain_duration_seconds_count") or 0
        retrainer.stop(timeout=120)
    return retrainer, watch.share(), cycles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--anomaly-rate", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=1, help="phases A and B, alternated")
    args = parser.parse_args()
    count = int(args.rate * args.seconds)
    rounds: list[tuple[float, float, float]] = []  # per round: load at A's start, share, cycles
    with workbench(configs=BROKER_TIME) as (scratch, model, topic):
        copy = Path(shutil.copytree(model, model.parent / "retrainer-model"))
        with serve(model, topic, scratch.group(), scratch) as detector:
            detector.wait_for(detector.ready, "ready")
            for k in range(args.rounds):
                load = os.getloadavg()[0]
                print(f"round {k + 1}, phase A (load {load:.1f}): {count:,} readings at "
                      f"{args.rate:,.0f}/s, no retrainer", flush=True)
                producer, _ = produce(topic, args.rate, count, args.devices, args.anomaly_rate,
                                      2 * k + 1)
                detector.wait_records((2 * k + 1) * count * 0.99, timeout=600)
                retrainer, share, cycles = phase_b(detector, scratch, copy, topic, count, args,
                                                   2 * k + 2)
                rounds.append((load, share, cycles))
            detector.stop()
        lags = lags_by_phase(detector.topics.anomalies, topic, count, 2 * args.rounds)
    report(producer, detector, retrainer, lags, rounds)


def report(producer: list[str], detector: DetectorProcess, retrainer: DetectorProcess,
           lags: list[np.ndarray], rounds: list[tuple[float, float, float]]) -> None:
    """Each phase's lag and each round's ratio, then all rounds' together."""
    print(f"\nproducer: {shlex.join(producer)} (seeds 1, 2, ... by phase)")
    print(f"detector: {detector.shown}")
    print(f"retrainer: {shlex.join(retrainer.command)}")
    print(f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    rows = []
    for k, (load, share, cycles) in enumerate(rounds):
        rows.append(row(f"{k + 1}A: no retrainer (load {load:.1f})", lags[2 * k]))
        rows.append(row(f"{k + 1}B: training {share:.0%}, {cycles:.0f} cycle(s)",
                        lags[2 * k + 1]))
    print(table(rows, ("phase", "p50 ms", "p99 ms", "max ms")))
    for k in range(len(rounds)):
        print(f"round {k + 1}: p99 B / A = {p99(lags[2 * k + 1]) / p99(lags[2 * k]):.2f}")
    ratio = p99(np.concatenate(lags[1::2])) / p99(np.concatenate(lags[::2]))
    print(f"\nlag ratio, all rounds: p99 while training / p99 without = {ratio:.2f} "
          f"(target <= 2: {'met' if ratio <= 2 else 'NOT met'})")


def p99(lags: np.ndarray) -> float:
    """The 99th percentile."""
    return float(np.percentile(lags, 99))


if __name__ == "__main__":
    sys.exit(main())
