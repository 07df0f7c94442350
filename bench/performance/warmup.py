"""Warm-up: how long a restarted replica takes to rebuild its windows before it scores again.

    .venv/bin/python -m bench.performance.warmup [--partitions 6] [--devices 6000] [--window 20]
        [--repeats 2]

Trains a bundle on windows of `--window` readings, fills a fresh topic with `--devices` devices
(spread over the partitions; window + 5 readings each), lets one `detector serve` score and
commit all of it, and stops it. Then, `--repeats` times, starts a replica in the same group (it
resumes at the commit, the end of the topic) with the default warm-up and one with
`--warmup-records 0` (nothing replayed: the baseline of a bare start), in turn. Reports seconds
from start to /healthz ready, the warm-up time the detector exports
(detector_warmup_duration_seconds, summed over partitions) and the records it replayed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import table
from bench.performance.harness import Scratch, fill, serve, written
from tests.helpers.bundles import train_bundle


def restart(model: Path, topic: str, group: str, scratch: Scratch, partitions: int,
            *options: str) -> tuple[float, float, float]:
    """(seconds to ready, warm-up seconds exported, records replayed) of one fresh start."""
    with serve(model, topic, group, scratch, *options, partitions=partitions) as detector:
        detector.wait_ready(timeout=600)
        took = time.monotonic() - detector.started
        seconds = detector.sample("detector_warmup_duration_seconds_sum") or 0.0
        replayed = detector.sample("detector_warmup_records_total") or 0.0
        assert detector.stop() == 0
    return took, seconds, replayed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--devices", type=int, default=6000)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    count = args.devices * (args.window + 5)
    with tempfile.TemporaryDirectory() as tmp, Scratch() as scratch:
        print(f"training a bundle on windows of {args.window} ...", flush=True)
        model = train_bundle(Path(tmp) / "model", "--simulate", "20000", "--epochs", "5",
                             "--window", str(args.window), "--seed", "0")
        topic = scratch.topic("readings", args.partitions)
        fill(topic, count, partitions=args.partitions, devices=args.devices)
        assert written(topic) == count
        group = scratch.group()
        with serve(model, topic, group, scratch, partitions=args.partitions) as first:
            first.wait_for(lambda: scratch.committed(group, topic) >= count,
                           "the first replica to commit the whole topic", timeout=900)
            assert first.stop() == 0
        print(f"{count:,} readings of {args.devices:,} devices on {args.partitions} partitions "
              "scored and committed; restarting ...", flush=True)
        runs: dict[str, list[tuple[float, float, float]]] = {"warm-up": [], "no warm-up": []}
        for _ in range(args.repeats):
            runs["warm-up"].append(restart(model, topic, group, scratch, args.partitions))
            runs["no warm-up"].append(restart(model, topic, group, scratch, args.partitions,
                                              "--warmup-records", "0"))
    rows = [(name, f"{statistics.median(r[0] for r in got):.2f}",
             f"{statistics.median(r[1] for r in got):.2f}", f"{max(r[2] for r in got):,.0f}")
            for name, got in runs.items()]
    print(table(rows, ("start", "to ready, s (median)", "warm-up, s", "records replayed")))
    base = statistics.median(r[0] for r in runs["no warm-up"])
    print(f"ratio to ready, warm-up / none: "
          f"{statistics.median(r[0] for r in runs['warm-up']) / base:.2f}")


if __name__ == "__main__":
    main()
