"""Against the naive way: the seed's `model.predict` on one reading at a time, against the
detector's scoring path (one Scorer.score call per batch), on the same simulated readings.

    .venv/bin/python -m bench.performance.naive [--readings 100000] [--seconds 20]
        [--batch-size 5000]

The naive loop (after one untimed warm-up call) runs until --seconds have passed; the
detector's path scores every reading, best of 3. A second row adds the decoding of the readings'
JSON (what `detector serve` does before scoring). Both paths must agree on the reconstruction.
Target: the detector's scoring path >= 5,000x the naive way.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import table
from bench.performance.harness import train
from detector.core.bundle import load_bundle
from detector.core.inference import keras_model
from detector.core.scoring import Scorer
from detector.stream.decode import Decoder
from producer.simulator import Simulator
from shared.wire import encode_reading


def naive(model: object, values: np.ndarray, seconds: float) -> tuple[float, np.ndarray]:
    """Readings/s of model.predict on one reading at a time, and the reconstructions it made.

    One call first, untimed: Keras builds its predict function then, once.
    """
    model.predict(values[:1, None, :], verbose=0)  # type: ignore[attr-defined]
    out = []
    started = time.perf_counter()
    for row in values:
        out.append(model.predict(row[None, None, :], verbose=0)[0, -1])  # type: ignore[attr-defined]
        if time.perf_counter() - started >= seconds:
            break
    return len(out) / (time.perf_counter() - started), np.array(out)


def best_rate(work: object, count: int, repeats: int = 3) -> float:
    """Readings/s of the quickest of `repeats` runs of work()."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return count / min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    block = next(Simulator(devices=100, anomaly_rate=0.002, seed=5).blocks(args.readings,
                                                                            args.readings))
    values = block.values.round(4)
    raws = [encode_reading(d, s, 1.7e9, v) for d, s, v in
            zip(block.device, block.seq.tolist(), values.tolist(), strict=True)]
    with tempfile.TemporaryDirectory() as tmp:
        print("training a model ...", flush=True)
        bundle = load_bundle(train(Path(tmp) / "model"))
        scorer = Scorer(bundle)
        decoder = Decoder(bundle.channels)
        model = keras_model(bundle)
        print(f"naive: model.predict per reading for {args.seconds:.0f} s ...", flush=True)
        slow, made = naive(model, values, args.seconds)
    size = args.batch_size
    batches = [values[i : i + size] for i in range(0, len(values), size)]
    chunks = [raws[i : i + size] for i in range(0, len(raws), size)]
    fast = best_rate(lambda: [scorer.score(b) for b in batches], len(values))
    full = best_rate(lambda: [scorer.score(decoder.decode(c).values) for c in chunks],
                     len(values))
    gap = float(np.abs(scorer.score(values[: len(made)]).reconstruction - made).max())
    rows = [
        ("naive: model.predict, one reading per call", f"{slow:,.1f}", "1"),
        (f"detector: Scorer.score, batches of {size}", f"{fast:,.0f}", f"{fast / slow:,.0f}"),
        ("detector: decode JSON + Scorer.score", f"{full:,.0f}", f"{full / slow:,.0f}"),
    ]
    print(f"\ncommand: .venv/bin/python -m bench.performance.naive --readings {args.readings} "
          f"--seconds {args.seconds:g} --batch-size {size}")
    print(f"naive scored {len(made)} readings; largest difference between the two paths' "
          f"reconstructions: {gap:.2e}\n")
    print(table(rows, ("path", "readings/s", "x naive")))
    print(f"\nspeed-up {fast / slow:,.0f}x (target >= 5,000x: "
          f"{'met' if fast / slow >= 5000 else 'NOT met'}); with decoding {full / slow:,.0f}x")


if __name__ == "__main__":
    main()
