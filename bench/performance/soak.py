"""Soak: Kafka + producer + `detector serve` for N minutes at a steady rate; RSS and CPU over time.

    .venv/bin/python -m bench.performance.soak [--minutes 30] [--rate 500] [--interval 10]
        [--warmup 3]

Uses the broker at --bootstrap (default 127.0.0.1:9092), starting the local stack's Kafka when
nothing answers there (and stopping it at the end). Fresh topics and group per run, deleted after.
Every --interval seconds it prints the detector's resident memory (VmRSS from /proc), its CPU
over the interval (utime + stime from /proc/<pid>/stat), the readings it scored per second and
its consumer lag. At the end: the RSS growth after warm-up (median of the first minute after
warm-up against the median of the last minute), the least-squares RSS slope, and that slope
projected over 30 minutes. Target: after warm-up, RSS grows at most 5 % over 30 minutes.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if not __package__:  # run as a file (bench/performance/soak.py): the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.performance.harness import Scratch, train
from tests.helpers import REPO
from tests.helpers.broker import broker_answers, run_stack
from tests.helpers.processes import DetectorProcess, ServeTopics, producer_command, terminate

TARGET = 5.0  # % RSS growth allowed over 30 minutes after warm-up
MIB = 1024 * 1024


@dataclass
class Sample:
    elapsed: float  # seconds since the producer started
    rss_mib: float
    cpu_pct: float  # of one core, over the interval before
    rate: float  # readings scored per second over the interval before
    lag: float  # readings behind, all partitions


def scrape(detector: DetectorProcess) -> dict[str, float]:
    """detector_records_total and the summed consumer lag from /metrics."""
    samples = detector.metrics()
    return {"records": samples.get(("detector_records_total", frozenset()), 0.0),
            "lag": sum(value for (name, _), value in samples.items()
                       if name == "detector_consumer_lag_records")}


def slope_per_minute(samples: list[Sample]) -> float:
    """Least-squares slope of RSS against time, MiB per minute."""
    if len(samples) < 2:
        return 0.0
    xs = [s.elapsed / 60 for s in samples]
    ys = [s.rss_mib for s in samples]
    return statistics.linear_regression(xs, ys).slope


def report(samples: list[Sample], warmup_min: float, minutes: float) -> bool:
    """Print the summary; True when the growth after warm-up is within the target."""
    after = [s for s in samples if s.elapsed >= warmup_min * 60]
    if len(after) < 4:
        print("too few samples after warm-up for a verdict")
        return False
    first = [s.rss_mib for s in after if s.elapsed < after[0].elapsed + 60]
    last = [s.rss_mib for s in after if s.elapsed > after[-1].elapsed - 60]
    start, end = statistics.median(first), statistics.median(last)
    span_min = (after[-1].elapsed - after[0].elapsed) / 60
    growth = (end - start) / start * 100
    slope = slope_per_minute(after)
    projected = slope * 30 / start * 100
    cpu = [s.cpu_pct for s in after]
    rates = [s.rate for s in after]
    print()
    print(f"after warm-up ({warmup_min:g} min), over {span_min:.1f} min:")
    print(f"  RSS            {start:.1f} MiB -> {end:.1f} MiB   growth {growth:+.2f} %")
    print(f"  RSS slope      {slope * 60:+.2f} MiB/h   projected over 30 min {projected:+.2f} %")
    print(f"  RSS max        {max(s.rss_mib for s in samples):.1f} MiB (whole run)")
    print(f"  CPU            mean {statistics.mean(cpu):.1f} %  max {max(cpu):.1f} % of one core")
    print(f"  throughput     mean {statistics.mean(rates):.0f} readings/s scored")
    lag = max(s.lag for s in after)
    print(f"  lag            last {after[-1].lag:.0f} readings, max {lag:.0f}")
    worst = max(growth, projected) if minutes < 30 else growth
    ok = worst <= TARGET
    basis = "measured" if minutes >= 30 else "worst of measured and projected to 30 min"
    print(f"verdict: {'PASS' if ok else 'FAIL'} ({basis} {worst:+.2f} %, target <= {TARGET:g} %)")
    return ok


def run(args: argparse.Namespace, work: Path) -> bool:
    """Start the processes, sample until the time is up, stop them; the verdict."""
    model = Path(args.model) if args.model else None
    if model is None:
        print("training a model on 20000 simulated readings ...", flush=True)
        model = train(work / "model", epochs=10)
    with Scratch(args.bootstrap) as scratch:
        topics = ServeTopics(scratch.name("soak-readings"), scratch.name("soak-anomalies"),
                             scratch.name("soak-dlq"), scratch.group("soak"))
        with DetectorProcess.serve(model, topics, args.bootstrap,
                                   "--metrics-host", "127.0.0.1") as detector:
            detector.wait_ready(timeout=120)
            producer = subprocess.Popen(
                producer_command(args.bootstrap, topics.readings, rate=args.rate,
                                 devices=args.devices, anomaly_rate=0.002),
                stdout=subprocess.DEVNULL, stderr=(work / "producer.log").open("w"), cwd=REPO,
            )
            try:
                print(f"detector pid {detector.proc.pid}, {args.rate:g} readings/s for "
                      f"{args.minutes:g} min, a sample every {args.interval:g} s "
                      f"(topic {topics.readings})", flush=True)
                print(f"{'min':>6} {'RSS MiB':>8} {'CPU %':>6} {'scored/s':>9} {'lag':>7}",
                      flush=True)
                samples = sample_loop(args, detector, producer)
            finally:
                terminate(producer)
            detector.stop()
    return report(samples, args.warmup, args.minutes)


def sample_loop(args: argparse.Namespace, detector: DetectorProcess,
                producer: subprocess.Popen) -> list[Sample]:
    """Every interval: one sample, printed; until --minutes have passed."""
    samples: list[Sample] = []
    started = time.monotonic()
    cpu0, t0, rec0 = detector.cpu(), started, scrape(detector)["records"]
    while time.monotonic() - started < args.minutes * 60:
        time.sleep(args.interval)
        if detector.proc.poll() is not None:
            sys.exit(f"the detector exited ({detector.proc.returncode}):\n{detector.log[-3000:]}")
        if producer.poll() is not None:
            sys.exit(f"the producer exited ({producer.returncode})")
        now, cpu, seen = time.monotonic(), detector.cpu(), scrape(detector)
        sample = Sample(now - started, detector.rss() / MIB, (cpu - cpu0) / (now - t0) * 100,
                        (seen["records"] - rec0) / (now - t0), seen["lag"])
        cpu0, t0, rec0 = cpu, now, seen["records"]
        samples.append(sample)
        print(f"{sample.elapsed / 60:6.1f} {sample.rss_mib:8.1f} {sample.cpu_pct:6.1f} "
              f"{sample.rate:9.0f} {sample.lag:7.0f}", flush=True)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the run")
    parser.add_argument("--rate", type=float, default=500.0, help="readings per second")
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=3.0, help="minutes left out of the verdict")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--model", help="a model bundle (default: train one on simulated data)")
    args = parser.parse_args()
    if args.minutes <= args.warmup:
        parser.error("--minutes must be longer than --warmup")
    started_kafka = False
    if broker_answers(args.bootstrap, timeout=5) is not None:
        if args.bootstrap != "127.0.0.1:9092":
            sys.exit(f"no Kafka broker answers at {args.bootstrap}")
        print("starting the local stack's Kafka ...", flush=True)
        result = run_stack("up", "kafka")
        if result.returncode != 0:
            sys.exit(f"deploy/local/stack up kafka failed:\n{result.stdout}{result.stderr}")
        started_kafka = True
    try:
        with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
            ok = run(args, Path(tmp))
    finally:
        if started_kafka:
            run_stack("down", "kafka")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
