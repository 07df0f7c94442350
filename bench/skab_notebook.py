"""The SKAB benchmark's Conv-AE notebook re-done in plain Keras, as a reference for bench/skab.py.

    .venv/bin/python -m bench.skab_notebook [FOLDER] [--residual mae|mse] [--seed S]

Not the project's code path: this follows notebooks/Conv_AE.ipynb and core/Conv_AE.py of
waico/SKAB (commit b2c0d46) step by step, to tell what `bench/skab.py --preset conv-ae` differs
in from what the notebook would print on the same files. Per file: StandardScaler on the first 400
rows; windows of 60 (window i = rows i … i + 59); Conv1D 32 → Dropout 0.2 → Conv1D 16 →
Conv1DTranspose 16 → Dropout 0.2 → Conv1DTranspose 32 → Conv1DTranspose 1 (one output channel,
broadcast against the eight); Adam 0.001, MSE, batch 32, validation_split 0.1, early stopping
patience 5 without restoring the best weights, at most 100 epochs; one seed (0, or --seed) set
once for the run, as the notebook does; residual = sum over channels of the mean absolute error
over the window; UCL = 0.999 quantile of the training windows' residuals × 4/3; row d flagged
when windows d − 59 … d − 1 are all above. Counted over every row of the file (the notebook's
count) and over the test
rows; `--residual mse` shows what the project's squared error changes, `--cli-fit` what the
project's early stopping changes, `--cli-scaling` what its scaling changes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.skab import DEFAULT_FOLDER, TRAIN_ROWS, labelled_files
from detector.core.model import channel_scaling
from detector.core.quiet import import_keras
from detector.offline.evaluate import Quality, quality
from shared.tables import read_csv

STEPS, Q = 60, 0.999


def sequences(values: np.ndarray) -> np.ndarray:
    """Window i = rows i … i + STEPS − 1."""
    view = np.lib.stride_tricks.sliding_window_view(values, STEPS, axis=0)
    return np.ascontiguousarray(view.transpose(0, 2, 1))


def conv_ae(keras, shape: tuple[int, int]):
    """The notebook's model."""
    layers = keras.layers
    model = keras.Sequential([
        keras.Input(shape),
        layers.Conv1D(32, 7, padding="same", strides=2, activation="relu"),
        layers.Dropout(0.2),
        layers.Conv1D(16, 7, padding="same", strides=2, activation="relu"),
        layers.Conv1DTranspose(16, 7, padding="same", strides=2, activation="relu"),
        layers.Dropout(0.2),
        layers.Conv1DTranspose(32, 7, padding="same", strides=2, activation="relu"),
        layers.Conv1DTranspose(1, 7, padding="same"),
    ])  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="mse")
    return model


def residuals(x: np.ndarray, rebuilt: np.ndarray, kind: str) -> np.ndarray:
    """Per window: sum over channels of the mean (absolute or squared) error over the window."""
    gap = np.abs(x - rebuilt) if kind == "mae" else (x - rebuilt) ** 2
    return gap.mean(axis=1).sum(axis=1)


def one_file(keras, frame, kind: str, cli_fit: bool = False, cli_scaling: bool = False
             ) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's flags of every row of one file, and its labels (`cli_fit`: early stopping
    as `detector train` does it: best weights restored, the last 20 % of windows watched;
    `cli_scaling`: the channels scaled as `detector train` does, over the training windows)."""
    values = frame.drop(columns=["datetime", "anomaly", "changepoint"]).to_numpy(dtype=float)
    train = values[:TRAIN_ROWS]
    mean, std = train.mean(axis=0), train.std(axis=0)
    if cli_scaling:
        mean, variance = channel_scaling(sequences(train))
        std = np.sqrt(variance)
    x = sequences((train - mean) / std)
    model = conv_ae(keras, x.shape[1:])
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, mode="min",
                                         restore_best_weights=cli_fit,
                                         min_delta=1e-6 if cli_fit else 0)  # fmt: skip
    model.fit(x, x, epochs=100, batch_size=32, validation_split=0.2 if cli_fit else 0.1,
              verbose=0, callbacks=[stop])  # fmt: skip
    ucl = np.quantile(residuals(x, model.predict(x, verbose=0), kind), Q) * 4 / 3
    xs = sequences((values - mean) / std)
    above = residuals(xs, model.predict(xs, verbose=0), kind) > ucl
    flagged = np.zeros(len(values), dtype=bool)
    for d in range(STEPS - 1, len(xs) - STEPS + 1):
        flagged[d] = above[d - STEPS + 1 : d].all()
    return flagged, frame["anomaly"].to_numpy() > 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--residual", choices=("mae", "mse"), default="mae")
    parser.add_argument("--seed", type=int, default=0, help="set once for the run (default 0)")
    parser.add_argument("--cli-fit", action="store_true", help="early stopping as detector "
                        "train: best weights restored, validation on the last 20 %%")
    parser.add_argument("--cli-scaling", action="store_true", help="channels scaled as detector "
                        "train does: over the training windows (rows weighed by their windows)")
    args = parser.parse_args()
    keras = import_keras()
    keras.utils.set_random_seed(args.seed)
    totals: dict[str, dict[str, Quality]] = {}
    for path in labelled_files(args.folder):
        flagged, truth = one_file(keras, read_csv(path), args.residual, args.cli_fit,
                                  args.cli_scaling)
        folder = path.parent.name
        for key in (folder, "all"):
            for rows, start in (("every row", 0), ("test rows", TRAIN_ROWS)):
                got = quality(truth[start:], flagged[start:])
                mine = totals.setdefault(key, {})
                mine[rows] = mine.get(rows, Quality(0, 0, 0, 0)) + got
        print(f"{path.relative_to(args.folder)}: " + figures(quality(truth, flagged)), flush=True)
    print(f"\nThe notebook's Conv-AE (residual {args.residual}, seed {args.seed}"
          f"{', early stopping as the CLI' if args.cli_fit else ''}"
          f"{', scaling as the CLI' if args.cli_scaling else ''}), "
          "F1 / FAR % / MAR %:")
    for key, parts in totals.items():
        print(f"  {key}: " + ", ".join(f"{rows} {figures(q)}" for rows, q in parts.items()))


def figures(q: Quality) -> str:
    """F1 / FAR / MAR."""
    return f"{q.f1:.2f} / {q.far:.2f} / {q.mar:.2f}"


if __name__ == "__main__":
    main()
