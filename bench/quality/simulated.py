"""Detection quality on simulated data: false-alarm rate, events found and delay per anomaly kind.

    .venv/bin/python -m bench.quality.simulated [--train-rows 100000] [--train-args "..."]

Trains a bundle through the CLI on simulated normal readings (by default the default model, with
each calibration method; `--train-args` gives the options of one bundle instead, e.g. the one the
stack deploys), then scores as the daemon does (each device's windows and the bundle's alarm
rule): 100,000 fresh normal readings (the false-alarm rate, against the bundle's target) and
200,000 readings with anomalies. For each kind: the share of its readings flagged, the share of
its anomalies (contiguous labelled stretches of one device) with at least one flag, and the
median delay, in readings of that device, from an anomaly's first labelled reading to its first
flag (0 = flagged at once).
"""

from __future__ import annotations

import argparse
import json
import shlex
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import table
from detector.core.alarm import AlarmRule
from detector.core.bundle import load_bundle
from detector.core.scoring import Scorer
from detector.offline.score import score_table
from producer.anomalies import KINDS
from producer.simulator import Simulator
from shared.tables import Table
from tests.helpers.bundles import train_bundle


def flagged_by_serving(bundle: Path, values: np.ndarray, devices: np.ndarray) -> np.ndarray:
    """The flags the daemon raises on these readings of these devices, in this order."""
    loaded = load_bundle(bundle)
    frame = pd.DataFrame(values, columns=loaded.channels).assign(device=devices)
    scored = score_table(Scorer(loaded), AlarmRule.of(loaded.meta),
                         Table(frame, loaded.channels, values, None), "simulated")  # fmt: skip
    return scored["is_anomaly"].to_numpy() > 0


def events(labels: np.ndarray, devices: np.ndarray, flagged: np.ndarray, kind: str) -> list[int]:
    """Per anomaly of the kind: readings from its start to its first flag (-1: never flagged)."""
    delays = []
    for device in np.unique(devices):
        mine = devices == device
        is_kind = labels[mine] == kind
        edges = np.diff(np.concatenate([[0], is_kind.astype(int), [0]]))
        hits = np.flatnonzero(flagged[mine])
        for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
            first = hits[np.searchsorted(hits, start)] if np.any(hits >= start) else -1
            delays.append(int(first - start) if 0 <= first < end else -1)
    return delays


def measure(bundle: Path, name: str) -> tuple:
    """One row of the table: the bundle's FAR, then readings / events / median delay per kind."""
    fresh = Simulator(devices=10, anomaly_rate=0.0, seed=2026).block(10_000)
    flagged = flagged_by_serving(bundle, fresh.values, np.asarray(fresh.device))
    target = json.loads((bundle / "bundle.json").read_text())["calibration"]["target_far"]
    block = Simulator(devices=10, anomaly_rate=0.005, seed=77).block(20_000)
    labels, devices = np.asarray(block.label), np.asarray(block.device)
    hits = flagged_by_serving(bundle, block.values, devices)
    row = [name, f"{np.mean(flagged):.5f} ({target:g})"]
    for kind in KINDS:
        delays = np.asarray(events(labels, devices, hits, kind))
        found = delays[delays >= 0]
        median = f"{np.median(found):g}" if len(found) else "–"
        row.append(f"{np.mean(hits[labels == kind]):.3f} / {len(found) / len(delays):.3f} "
                   f"({len(found)}/{len(delays)}) / {median}")  # fmt: skip
    return tuple(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-rows", type=int, default=100_000)
    parser.add_argument("--train-args", help="detector train options of the one bundle to measure")
    args = parser.parse_args()
    settings = ([args.train_args] if args.train_args else
                ["--calibration pot", "--calibration quantile"])  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, setting in enumerate(settings):
            out = train_bundle(Path(tmp) / str(i), "--simulate", str(args.train_rows),
                               *shlex.split(setting))  # fmt: skip
            rows.append(measure(out, setting))
    header = ("detector train --simulate N …", "FAR (target)",
              *(f"{k}: readings / events / median delay" for k in KINDS))  # fmt: skip
    print(table(rows, header))


if __name__ == "__main__":
    main()
