"""The autoencoder: built, trained and exported with its scaling inside (Keras, TensorFlow backend).

The default is the seed's linear Dense 5 → 2 → 5 on single readings. Every model takes windows of
shape (window, channels) in raw units and returns their reconstruction in raw units: standardising
happens in a Normalization layer at the input and its inverse at the output. Training runs on the
standardised inner network, so the loss weighs every channel alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from detector.core.quiet import import_keras

keras = import_keras()

ARCHITECTURES = ("dense", "conv", "conv-shared")
VALIDATION = ("tail", "random")  # which fitting windows early stopping watches
CONV_FILTERS = (32, 16)  # as the Conv-AE of the SKAB benchmark


@dataclass(frozen=True)
class Architecture:
    """The shape of the autoencoder, recorded in the bundle."""

    kind: str = "dense"
    hidden: tuple[int, ...] = (5, 2)
    activation: str = "linear"
    window: int = 1
    dropout: float = 0.0  # conv only: after the first encoder and the first decoder layer

    def to_dict(self) -> dict:
        """A JSON-ready dict (without `dropout` when 0, as bundles written before it)."""
        fields = {**asdict(self), "hidden": list(self.hidden)}
        return fields if self.dropout else {k: v for k, v in fields.items() if k != "dropout"}


@dataclass(frozen=True)
class TrainingOptions:
    """How to fit: epochs, batch, learning rate, validation split, early stopping, seed.

    `validation` picks the windows early stopping watches: the last `validation_split` of them
    (`tail`, the newest readings), or as many drawn at random with the seed (`random`), so the
    model also learns from the readings nearest to those it will score.
    """

    epochs: int = 200
    batch_size: int = 0  # 0 = chosen from the data size
    learning_rate: float = 0.005
    validation_split: float = 0.2
    patience: int = 15
    seed: int = 0
    validation: str = "tail"


def channel_scaling(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and variance over all readings, variance floored so nothing divides by 0."""
    flat = windows.reshape(-1, windows.shape[-1])
    mean = flat.mean(axis=0)
    std = flat.std(axis=0)
    floor = 1e-3 * np.maximum(np.abs(mean), 1.0)
    return mean, np.maximum(std, floor) ** 2


def inner_network(arch: Architecture, channels: int) -> keras.Sequential:
    """The standardised autoencoder: (window, channels) → (window, channels)."""
    shape = (arch.window, channels)
    if arch.kind == "dense":
        layers = [keras.layers.Flatten()]
        layers += [keras.layers.Dense(h, activation=arch.activation) for h in arch.hidden]
        layers += [keras.layers.Dense(arch.window * channels), keras.layers.Reshape(shape)]
    elif arch.kind in ("conv", "conv-shared"):
        layers = conv_layers(arch, channels)
    else:
        raise ValueError(f"unknown architecture {arch.kind!r}: choose {', '.join(ARCHITECTURES)}")
    return keras.Sequential([keras.Input(shape), *layers], name="autoencoder")


def conv_layers(arch: Architecture, channels: int) -> list[keras.layers.Layer]:
    """A Conv1D encoder with stride-2 downsampling and a Conv1DTranspose decoder.

    Each stride halves the length, so a window that is not a multiple of 2 ** len(filters) is
    padded with zeros (the training mean, once standardised) before its oldest reading and
    cropped back after decoding: any window length works. `conv-shared` ends in one output
    channel that stands for every channel (a frozen Dense of ones copies it), as the SKAB
    benchmark's Conv-AE does: it reconstructs a window by one common curve.
    """
    act = "relu" if arch.activation == "linear" else arch.activation
    filters = arch.hidden or CONV_FILTERS
    pad = -arch.window % 2 ** len(filters)
    down = [keras.layers.Conv1D(f, 7, strides=2, padding="same", activation=act) for f in filters]
    up = [
        keras.layers.Conv1DTranspose(f, 7, strides=2, padding="same", activation=act)
        for f in reversed(filters)
    ]
    if arch.dropout:
        down.insert(1, keras.layers.Dropout(arch.dropout))
        up.insert(1, keras.layers.Dropout(arch.dropout))
    out: list[keras.layers.Layer] = [keras.layers.Conv1DTranspose(channels, 7, padding="same")]
    if arch.kind == "conv-shared":
        out = [keras.layers.Conv1DTranspose(1, 7, padding="same"), keras.layers.Dense(
            channels, use_bias=False, kernel_initializer="ones", trainable=False)]
    if not pad:
        return [*down, *up, *out]
    padding, cropping = keras.layers.ZeroPadding1D((pad, 0)), keras.layers.Cropping1D((pad, 0))
    return [padding, *down, *up, *out, cropping]


def default_hidden(kind: str) -> tuple[int, ...]:
    """Hidden sizes when none are given: the seed's (5, 2), or the Conv-AE's (32, 16) filters."""
    return CONV_FILTERS if kind.startswith("conv") else (5, 2)


def export_model(inner: keras.Sequential, mean: np.ndarray, variance: np.ndarray) -> keras.Model:
    """The served model: raw in, raw out, the scaling as Normalization layers around `inner`."""
    window, channels = inner.input_shape[1:]
    inputs = keras.Input((window, channels), name="readings")
    scaled = keras.layers.Normalization(mean=mean, variance=variance, name="scale")(inputs)
    outputs = keras.layers.Normalization(mean=mean, variance=variance, invert=True, name="unscale")(
        inner(scaled)
    )
    return keras.Model(inputs, outputs, name="detector")


def fitting_order(n: int, validation: str, seed: int) -> np.ndarray:
    """The order of n windows for Keras, whose validation split takes the last ones."""
    if validation == "tail":
        return np.arange(n)
    if validation == "random":
        return np.random.default_rng(seed).permutation(n)
    raise ValueError(f"unknown validation {validation!r}: choose {', '.join(VALIDATION)}")


def pick_batch_size(rows: int) -> int:
    """A batch size that gives small data enough steps and large data few of them."""
    return int(min(512, max(16, 2 ** round(np.log2(max(rows, 1) / 100)))))


def train(
    windows: np.ndarray,
    arch: Architecture,
    options: TrainingOptions,
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Fit an autoencoder on normal windows (n, window, channels); the model and loss history."""
    keras.utils.set_random_seed(options.seed)
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    mean, variance = channel_scaling(windows)
    scaled = ((windows - mean) / np.sqrt(variance)).astype(np.float32)
    scaled = scaled[fitting_order(len(scaled), options.validation, options.seed)]
    inner = inner_network(arch, windows.shape[-1])
    inner.compile(
        optimizer=keras.optimizers.Adam(options.learning_rate), loss="mse", steps_per_execution=16
    )
    batch = options.batch_size or pick_batch_size(len(scaled))
    stopper = keras.callbacks.EarlyStopping(
        patience=options.patience, restore_best_weights=True, min_delta=1e-6
    )
    history = inner.fit(
        scaled,
        scaled,
        epochs=options.epochs,
        batch_size=batch,
        validation_split=options.validation_split,
        shuffle=True,
        verbose=0,
        callbacks=[stopper, EpochPrinter(options.epochs, progress)],
    )
    curves = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    return export_model(inner, mean, variance), curves


class EpochPrinter(keras.callbacks.Callback):
    """Reports one line per epoch through `progress`."""

    def __init__(self, epochs: int, progress: Callable[[str], None]) -> None:
        super().__init__()
        self.epochs = epochs
        self.progress = progress

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        val = f"  val_loss {logs['val_loss']:.5f}" if "val_loss" in logs else ""
        self.progress(f"epoch {epoch + 1}/{self.epochs}  loss {logs.get('loss', 0):.5f}{val}")


def model_weights(model: keras.Model) -> list[np.ndarray]:
    """Every weight array of the model, in a stable order (for the bundle's content hash)."""
    return [np.asarray(w) for w in model.get_weights()]
