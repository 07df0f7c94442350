"""Soak: Kafka + producer + `detector serve` for N minutes at a steady rate; RSS and CPU over time.

    .venv/bin/python bench/soak.py [--minutes 30] [--rate 500] [--interval 10] [--warmup 3]

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
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STACK = REPO / "deploy" / "local" / "stack"
TICKS = os.sysconf("SC_CLK_TCK")
TARGET = 5.0  # % RSS growth allowed over 30 minutes after warm-up


@dataclass
class Sample:
    elapsed: float  # seconds since the producer started
    rss_mib: float
    cpu_pct: float  # of one core, over the interval before
    rate: float  # readings scored per second over the interval before
    lag: float  # readings behind, all partitions


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, in seconds (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def scrape(port: int) -> dict[str, float]:
    """detector_records_total and the summed consumer lag from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    out = {"records": 0.0, "lag": 0.0}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "detector_records_total":
                out["records"] = s.value
            elif s.name == "detector_consumer_lag_records":
                out["lag"] += s.value
    return out


def free_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def broker_answers(bootstrap: str) -> bool:
    """True when a Kafka broker answers a metadata request at bootstrap."""
    from kafka import KafkaAdminClient

    try:
        KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000).close()
    except Exception:
        return False
    return True


def wait_ready(port: int, detector: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    """Until the detector's /healthz says ready; exit with its log if it dies or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if detector.poll() is not None:
            sys.exit(f"the detector exited ({detector.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    sys.exit(f"the detector was not ready after {timeout:.0f} s:\n{log.read_text()[-3000:]}")


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
    run_id = uuid.uuid4().hex[:8]
    topic, group = f"soak-readings-{run_id}", f"soak-{run_id}"
    topics = [topic, f"soak-anomalies-{run_id}", f"soak-dlq-{run_id}"]
    model = Path(args.model) if args.model else work / "model"
    if not args.model:
        print("training a model on 20000 simulated readings ...", flush=True)
        subprocess.run([str(BIN / "detector"), "train", "--simulate", "20000", "--epochs", "10",
                        "--seed", "0", "--out", str(model)], check=True, capture_output=True)
    port, log = free_port(), work / "detector.log"
    detector = subprocess.Popen(
        [str(BIN / "detector"), "serve", "--model", str(model), "--bootstrap", args.bootstrap,
         "--topic", topic, "--anomalies-topic", topics[1], "--dlq-topic", topics[2],
         "--group", group, "--metrics-port", str(port), "--metrics-host", "127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=log.open("w"), cwd=REPO,
    )
    producer = None
    try:
        wait_ready(port, detector, log)
        producer = subprocess.Popen(
            [str(BIN / "producer"), "simulate", "--bootstrap", args.bootstrap, "--topic", topic,
             "--rate", str(args.rate), "--devices", str(args.devices), "--anomaly-rate", "0.002",
             "--metrics-port", "0"],
            stdout=subprocess.DEVNULL, stderr=(work / "producer.log").open("w"), cwd=REPO,
        )
        print(f"detector pid {detector.pid}, {args.rate:g} readings/s for {args.minutes:g} min, "
              f"a sample every {args.interval:g} s (topic {topic})", flush=True)
        print(f"{'min':>6} {'RSS MiB':>8} {'CPU %':>6} {'scored/s':>9} {'lag':>7}", flush=True)
        samples = sample_loop(args, detector, producer, port, log)
    finally:
        stop(producer, detector)
        delete_topics(args.bootstrap, topics)
    return report(samples, args.warmup, args.minutes)


def sample_loop(args: argparse.Namespace, detector: subprocess.Popen,
                producer: subprocess.Popen, port: int, log: Path) -> list[Sample]:
    """Every interval: one sample, printed; until --minutes have passed."""
    samples: list[Sample] = []
    started = time.monotonic()
    cpu0, t0, rec0 = cpu_seconds(detector.pid), started, scrape(port)["records"]
    while time.monotonic() - started < args.minutes * 60:
        time.sleep(args.interval)
        if detector.poll() is not None:
            sys.exit(f"the detector exited ({detector.returncode}):\n{log.read_text()[-3000:]}")
        if producer.poll() is not None:
            sys.exit(f"the producer exited ({producer.returncode})")
        now, cpu, seen = time.monotonic(), cpu_seconds(detector.pid), scrape(port)
        sample = Sample(now - started, rss_mib(detector.pid), (cpu - cpu0) / (now - t0) * 100,
                        (seen["records"] - rec0) / (now - t0), seen["lag"])
        cpu0, t0, rec0 = cpu, now, seen["records"]
        samples.append(sample)
        print(f"{sample.elapsed / 60:6.1f} {sample.rss_mib:8.1f} {sample.cpu_pct:6.1f} "
              f"{sample.rate:9.0f} {sample.lag:7.0f}", flush=True)
    return samples


def stop(producer: subprocess.Popen | None, detector: subprocess.Popen) -> None:
    """SIGTERM both (producer first), waiting for each."""
    for process in (producer, detector):
        if process is None or process.poll() is not None:
            continue
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def delete_topics(bootstrap: str, topics: list[str]) -> None:
    """Delete the run's topics (best effort)."""
    from kafka import KafkaAdminClient

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        admin.delete_topics(topics, raise_errors=False)
        admin.close()
    except Exception as exc:
        print(f"could not delete the topics {topics}: {exc}", file=sys.stderr)


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
    if not broker_answers(args.bootstrap):
        if args.bootstrap != "127.0.0.1:9092":
            sys.exit(f"no Kafka broker answers at {args.bootstrap}")
        print("starting the local stack's Kafka ...", flush=True)
        subprocess.run([str(STACK), "up", "kafka"], check=True)
        started_kafka = True
    try:
        with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
            ok = run(args, Path(tmp))
    finally:
        if started_kafka:
            subprocess.run([str(STACK), "down", "kafka"], check=False)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
