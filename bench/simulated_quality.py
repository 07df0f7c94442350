"""Detection quality on simulated data: false-alarm rate and recall per anomaly kind.

    .venv/bin/python -m bench.simulated_quality [--train-rows 100000]

Trains the default model with each calibration method (target FAR 0.001) through the CLI, then
scores 100,000 fresh normal readings (the false-alarm rate) and 200,000 readings with anomalies
(recall per kind: share of the kind's readings flagged, and share of its events with a flag).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench.common import table
from detector.core.alarm import above_threshold
from detector.core.bundle import load_bundle
from detector.core.scoring import Scorer
from producer.anomalies import KINDS
from producer.simulator import Simulator, normal_values
from tests.helpers.bundles import train_bundle


def event_recall(labels: np.ndarray, devices: np.ndarray, flagged: np.ndarray, kind: str) -> float:
    """Share of the kind's anomalies (runs of its label on one device) with at least one flag."""
    caught = total = 0
    for device in np.unique(devices):
        mine = devices == device
        is_kind = labels[mine] == kind
        starts = np.flatnonzero(np.diff(np.concatenate([[0], is_kind.astype(int)])) == 1)
        ends = np.flatnonzero(np.diff(np.concatenate([is_kind.astype(int), [0]])) == -1) + 1
        hits = flagged[mine]
        caught += sum(bool(hits[s:e].any()) for s, e in zip(starts, ends, strict=True))
        total += len(starts)
    return caught / total if total else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-rows", type=int, default=100_000)
    args = parser.parse_args()
    fresh = normal_values(100_000, devices=10, seed=2026)
    block = Simulator(devices=10, anomaly_rate=0.005, seed=77).block(20_000)
    labels, devices = np.asarray(block.label), np.asarray(block.device)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("pot", "quantile"):
            out = train_bundle(Path(tmp) / method, "--simulate", str(args.train_rows),
                               "--calibration", method)
            scorer = Scorer(load_bundle(out))
            far = np.mean(above_threshold(scorer.score(fresh).score))
            flagged = above_threshold(scorer.score(block.values).score)
            row = [method, f"{far:.5f}"]
            for kind in KINDS:
                point = np.mean(flagged[labels == kind])
                row.append(f"{point:.3f} / {event_recall(labels, devices, flagged, kind):.3f}")
            rows.append(tuple(row))
    header = ("calibration", "FAR (target 0.001)", *(f"{k} (readings / events)" for k in KINDS))
    print(table(rows, header))


if __name__ == "__main__":
    main()
