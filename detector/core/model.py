"""The autoencoder: built, trained and exported with its scaling inside (Keras, TensorFlow backend).

The default is the seed's linear Dense 5 → 2 → 5 on single readings. Every model takes windows of
shape (window, channels) in raw units and returns their reconstruction in raw units: standardising
happens in a Normalization layer at the input and its inverse at the output. Training runs on the
standardised inner network, so the loss weighs every channel alike.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from detector.core.choices import Kind, Validation
from detector.core.quiet import import_keras
from detector.core.training_settings import CONV_FILTERS, TrainingSettings

keras: Any = import_keras()  # keras ships no type information
Network = Any  # a keras.Model (or Sequential)
Layer = Any  # a keras.layers.Layer

VALIDATION_SPLIT = 0.2  # the share of the fitting windows early stopping watches


def channel_scaling(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and variance over all readings, variance floored so nothing divides by 0."""
    flat = windows.reshape(-1, windows.shape[-1])
    mean = flat.mean(axis=0)
    std = flat.std(axis=0)
    floor = 1e-3 * np.maximum(np.abs(mean), 1.0)
    return mean, np.maximum(std, floor) ** 2


def inner_network(arch: TrainingSettings, channels: int) -> Network:
    """The standardised autoencoder: (window, channels) → (window, channels)."""
    shape = (arch.window, channels)
    if arch.architecture == Kind.DENSE:
        layers = [keras.layers.Flatten()]
        layers += [keras.layers.Dense(h, activation=str(arch.activation)) for h in arch.layers]
        layers += [keras.layers.Dense(arch.window * channels), keras.layers.Reshape(shape)]
    else:
        layers = conv_layers(arch, channels)
    return keras.Sequential([keras.Input(shape), *layers], name="autoencoder")


def conv_layers(arch: TrainingSettings, channels: int) -> list[Layer]:
    """A Conv1D encoder with stride-2 downsampling and a Conv1DTranspose decoder.

    Each stride halves the length, so a window that is not a multiple of 2 ** len(filters) is
    padded with zeros (the training mean, once standardised) before its oldest reading and
    cropped back after decoding: any window length works. `conv-shared` ends in one output
    channel that stands for every channel (a frozen Dense of ones copies it), as the SKAB
    benchmark's Conv-AE does: it reconstructs a window by one common curve.
    """
    act = "relu" if arch.activation == "linear" else str(arch.activation)
    filters = arch.layers or CONV_FILTERS
    pad = -arch.window % 2 ** len(filters)
    down = [keras.layers.Conv1D(f, 7, strides=2, padding="same", activation=act) for f in filters]
    up = [
        keras.layers.Conv1DTranspose(f, 7, strides=2, padding="same", activation=act)
        for f in reversed(filters)
    ]
    if arch.dropout:
        down.insert(1, keras.layers.Dropout(arch.dropout))
        up.insert(1, keras.layers.Dropout(arch.dropout))
    out: list[Layer] = [keras.layers.Conv1DTranspose(channels, 7, padding="same")]
    if arch.architecture == Kind.CONV_SHARED:
        out = [keras.layers.Conv1DTranspose(1, 7, padding="same"), keras.layers.Dense(
            channels, use_bias=False, kernel_initializer="ones", trainable=False)]
    if not pad:
        return [*down, *up, *out]
    padding, cropping = keras.layers.ZeroPadding1D((pad, 0)), keras.layers.Cropping1D((pad, 0))
    return [padding, *down, *up, *out, cropping]


def export_model(inner: Network, mean: np.ndarray, variance: np.ndarray) -> Network:
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
    if validation == Validation.TAIL:
        return np.arange(n)
    if validation == Validation.RANDOM:
        return np.random.default_rng(seed).permutation(n)
    raise ValueError(f"unknown validation {validation!r}: choose {', '.join(Validation)}")


def pick_batch_size(rows: int) -> int:
    """A batch size that gives small data enough steps and large data few of them."""
    return int(min(512, max(16, 2 ** round(np.log2(max(rows, 1) / 100)))))


def train(
    windows: np.ndarray,
    settings: TrainingSettings,
    progress: Callable[[str], None] = lambda _: None,
    bar: Callable[[int], keras.callbacks.Callback] | None = None,
) -> tuple[Network, dict[str, list[float]]]:
    """Fit an autoencoder on normal windows (n, window, channels); the model and loss history.

    Each epoch is reported by `bar(epochs)` (a Keras callback, e.g. a progress bar) when given,
    else as one line through `progress`; an early stop is said through `progress`."""
    keras.utils.set_random_seed(settings.seed)
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    mean, variance = channel_scaling(windows)
    scaled = ((windows - mean) / np.sqrt(variance)).astype(np.float32)
    scaled = scaled[fitting_order(len(scaled), settings.validation, settings.seed)]
    inner = inner_network(settings, windows.shape[-1])
    inner.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate), loss="mse", steps_per_execution=16
    )
    batch = settings.batch_size or pick_batch_size(len(scaled))
    stopper = keras.callbacks.EarlyStopping(
        patience=settings.patience, restore_best_weights=True, min_delta=1e-6
    )
    history = inner.fit(
        scaled,
        scaled,
        epochs=settings.epochs,
        batch_size=batch,
        validation_split=VALIDATION_SPLIT,
        shuffle=True,
        verbose=0,
        callbacks=[stopper, (bar or partial(EpochPrinter, progress=progress))(settings.epochs)],
    )
    curves = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    if stopper.stopped_epoch:
        best = int(getattr(stopper, "best_epoch", np.argmin(curves.get("val_loss", [0])))) + 1
        progress(f"stopped early after epoch {stopper.stopped_epoch + 1} of {settings.epochs}: "
                 f"the validation loss has not improved for {settings.patience} epochs; kept "
                 f"the weights of epoch {best}")
    return export_model(inner, mean, variance), curves


class EpochPrinter(keras.callbacks.Callback):  # type: ignore[misc]
    """Reports one line per epoch through `progress`."""

    def __init__(self, epochs: int, progress: Callable[[str], None]) -> None:
        super().__init__()
        self.epochs = epochs
        self.progress = progress

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        val = f"  val_loss {logs['val_loss']:.5f}" if "val_loss" in logs else ""
        self.progress(f"epoch {epoch + 1}/{self.epochs}  loss {logs.get('loss', 0):.5f}{val}")


def model_weights(model: Network) -> list[np.ndarray]:
    """Every weight array of the model, in a stable order (for the bundle's content hash)."""
    return [np.asarray(w) for w in model.get_weights()]
