"""Memory per device: the resident memory of `detector serve` with a windowed bundle after it has
scored a backlog from 1,000, 10,000 and 100,000 devices, against the 1,000-device run.

    .venv/bin/python -m bench.performance.devices [--devices 1000,10000,100000] [--window 20]
        [--per-device 21] [--min-count 1050000]

Each case: a fresh topic filled with max(--min-count, devices × --per-device) simulated readings
(so every device's window fills), one `detector serve` (default --max-devices) through the whole
backlog; its RSS when the group's committed offsets reach the end, and the peak while working.
What a Kubernetes pod must hold for `--max-devices` (docs/operations.md, "Sizing a pod").
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.common import table
from bench.performance.harness import Scratch, fill, peak_rss_while_scoring, serve, written
from tests.helpers.bundles import train_bundle

MIB = 1024 * 1024


def measure(model: Path, devices: int, count: int) -> tuple[int, int, str]:
    """(peak RSS, RSS once the backlog is scored, the command) for one number of devices."""
    with Scratch() as scratch:
        topic = scratch.topic("readings")
        seconds = fill(topic, count, devices=devices)
        assert written(topic) == count
        print(f"{devices:,} devices: {count:,} readings written in {seconds:.1f} s", flush=True)
        group = scratch.group()
        with serve(model, topic, group, scratch) as process:
            process.wait_for(process.ready, "ready", timeout=300)
            peak = peak_rss_while_scoring(process, scratch, group, topic, count, timeout=1800)
            rss = process.rss()
            process.stop()
        return max(peak, rss), rss, process.shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="1000,10000,100000")
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--per-device", type=int, default=21)
    parser.add_argument("--min-count", type=int, default=1_050_000)
    args = parser.parse_args()
    cases = [int(d) for d in args.devices.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        print(f"training a windowed bundle (window {args.window}) ...", flush=True)
        model = train_bundle(Path(tmp) / "model", "--simulate", "20000", "--epochs", "20",
                             "--seed", "0", "--window", str(args.window))
        results = [(d, *measure(model, d, max(args.min_count, d * args.per_device)))
                   for d in cases]
    base_devices, _, base_rss, command = results[0]
    rows = [(f"{d:,}", f"{max(args.min_count, d * args.per_device):,}",
             f"{rss / MIB:.0f} MiB", f"{peak / MIB:.0f} MiB", f"{rss / base_rss:.2f}",
             f"{(rss - base_rss) / 1024 / (d - base_devices):.2f} KiB" if d != base_devices
             else "")
            for d, peak, rss, _ in results]
    print(f"\ncommand (last case): {command}\n")
    print(table(rows, ("devices", "readings", "RSS after", "peak", "ratio to first",
                       "per extra device")))


if __name__ == "__main__":
    main()
