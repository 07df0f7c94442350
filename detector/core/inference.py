"""Engines that reconstruct windows: NumPy for dense models, Keras for everything.

A dense autoencoder is a few matrix products: NumPy runs them on a batch in microseconds and
without importing TensorFlow (seconds at start-up, hundreds of MiB). Any other model runs
through one compiled Keras call per batch. Both take and return raw (n, window, channels) windows.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from detector.core.bundle import ARRAYS_FILE, MODEL_FILE, Bundle, content_weights, same_weights
from detector.errors import BundleError

ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
}
CHUNK = 65_536  # windows per Keras call on large inputs
BLAS_THREAD_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                       "openblas_set_num_threads64_", "openblas_set_num_threads")


def one_blas_thread(maps: Path = Path("/proc/self/maps")) -> bool:
    """Keep the OpenBLAS that NumPy loaded to one thread; False when none is found.

    A batch of windows is a few small matrix products: on cores shared with the consumer's
    threads and the broker, OpenBLAS's worker threads wait for a core and spin (a (5000, 100) by
    (100, 5) product took 2-8 ms with them, 0.3 ms without).
    """
    try:
        paths = {line.split()[-1] for line in maps.read_text().splitlines()
                 if "openblas" in line.rsplit("/", 1)[-1].lower()}
    except OSError:
        return False
    done = False
    for path in paths:
        library = ctypes.CDLL(path)
        setter = next((getattr(library, name) for name in BLAS_THREAD_SETTERS
                       if hasattr(library, name)), None)
        if setter is not None:
            setter(1)
            done = True
    return done


class Engine(Protocol):
    """Reconstructs raw windows."""

    name: str

    def reconstruct(self, windows: np.ndarray) -> np.ndarray: ...


def scaling_arrays(model: Any) -> dict[str, np.ndarray]:
    """The per-channel mean and standard deviation inside a trained model."""
    scale = model.get_layer("scale")
    return {
        "mean": np.asarray(scale.mean, dtype=np.float64).reshape(-1),
        "std": np.sqrt(np.asarray(scale.variance, dtype=np.float64).reshape(-1)),
    }


def dense_arrays(model: Any) -> dict[str, np.ndarray]:
    """The scaling and the kernels and biases of the dense layers of a trained model."""
    arrays = scaling_arrays(model)
    inner = model.get_layer("autoencoder")
    dense = [layer for layer in inner.layers if layer.__class__.__name__ == "Dense"]
    for i, layer in enumerate(dense):
        kernel, bias = layer.get_weights()
        arrays[f"kernel_{i}"], arrays[f"bias_{i}"] = kernel, bias
    return arrays


class NumpyDense:
    """A dense autoencoder's forward pass in NumPy (float64, exact to Keras's float32).

    With linear activations the layers are one affine map: their kernels and biases are
    multiplied out once (in float64, to within rounding of the layer-by-layer result), so a batch
    costs one matrix product, not one per layer (most of a small batch's scoring).
    """

    name = "numpy"

    def __init__(self, arrays: dict[str, np.ndarray], activation: str) -> None:
        self.mean, self.std = arrays["mean"], arrays["std"]
        count = sum(1 for k in arrays if k.startswith("kernel_"))
        self.layers = [(np.asarray(arrays[f"kernel_{i}"], dtype=np.float64),
                        np.asarray(arrays[f"bias_{i}"], dtype=np.float64)) for i in range(count)]
        self.activation = ACTIVATIONS[activation]
        if activation == "linear" and len(self.layers) > 1:
            self.layers = [affine(self.layers)]
        self._rows: tuple[np.ndarray, np.ndarray] | None = None

    def reconstruct(self, windows: np.ndarray) -> np.ndarray:
        n = len(windows)
        x = windows - self.mean  # in place from here: no fresh temporaries per step
        x /= self.std
        x = self.forward(x.reshape(n, -1)).reshape(windows.shape)
        x *= self.std
        x += self.mean
        return x

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The layers on standardised (n, window × channels) inputs."""
        for i, (kernel, bias) in enumerate(self.layers):
            x = x @ kernel
            x += bias
            if i < len(self.layers) - 1:
                x = self.activation(x)
        return x

    def errors(self, windows: np.ndarray, residual: str = "squared"
               ) -> tuple[np.ndarray, np.ndarray]:
        """Mean squared (or absolute) error per channel in standard units, and the last reading's
        reconstruction.

        What Scorer.errors computes from `reconstruct`, in fewer passes: the inputs standardised
        a row of window × channels at a time (a broadcast of the 5-wide mean runs 5 values per
        inner loop), the error taken in standard units so that only the last reading is scaled
        back to raw units, and the squares summed per channel without an array of them.
        """
        n, window, channels = windows.shape
        mean, std = self.rows(window)
        x = windows.reshape(n, -1) - mean
        x /= std
        y = self.forward(x)
        last = y[:, -channels:] * self.std
        last += self.mean
        y -= x
        if window == 1:  # one reading a window: its own squares (or sizes), nothing to average
            return (np.abs(y, out=y) if residual == "absolute" else np.square(y, out=y)), last
        y = y.reshape(windows.shape)
        if residual == "absolute":
            errors = np.abs(y, out=y).sum(axis=1)
        else:
            errors = np.einsum("ntc,ntc->nc", y, y)  # channel by channel: a NaN or inf stays there
        errors /= window
        return errors, last

    def rows(self, window: int) -> tuple[np.ndarray, np.ndarray]:
        """The mean and standard deviation repeated over a window's readings (cached)."""
        if self._rows is None or len(self._rows[0]) != window * len(self.mean):
            self._rows = (np.tile(self.mean, window), np.tile(self.std, window))
        return self._rows


def affine(layers: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The one (kernel, bias) of linear layers applied in turn: x K0 + b0, then K1 ... ."""
    kernel, bias = layers[0]
    for k, b in layers[1:]:
        kernel, bias = kernel @ k, bias @ k + b
    return kernel, bias


class KerasEngine:
    """Any Keras model, called once per batch through a compiled function."""

    name = "keras"

    def __init__(self, model: Any) -> None:
        import tensorflow as tf

        spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
        self._forward = tf.function(lambda x: model(x, training=False), input_signature=[spec])

    def reconstruct(self, windows: np.ndarray) -> np.ndarray:
        x = np.asarray(windows, dtype=np.float32)
        parts = [self._forward(x[i : i + CHUNK]).numpy() for i in range(0, len(x), CHUNK)]
        return np.concatenate(parts).astype(np.float64) if parts else np.empty(x.shape)


def keras_model(bundle: Bundle) -> Any:
    """Load the bundle's Keras model, checking it against the metadata."""
    from detector.core.model import keras, model_weights

    model_file = bundle.path / MODEL_FILE
    try:
        model = keras.models.load_model(model_file, compile=False)
    except Exception as exc:  # Keras raises many kinds for a damaged file
        raise BundleError(f"{model_file} is corrupt: {str(exc).splitlines()[0][:200]}") from exc
    expected = (bundle.window, len(bundle.channels))
    if tuple(model.input_shape[1:]) != expected:
        raise BundleError(
            f"{model_file} takes inputs of shape {model.input_shape[1:]}, "
            f"but bundle.json says {expected} (window, channels)"
        )
    if not same_weights(model_weights(model), content_weights(bundle.arrays)):
        raise BundleError(
            f"{model_file} does not hold the weights of {ARRAYS_FILE} (the model the version "
            "was computed from): retrain the bundle or restore it from a copy"
        )
    return model


def make_engine(bundle: Bundle, engine: str = "auto") -> Engine:
    """NumPy for a dense model with its arrays (unless engine='keras'), Keras otherwise."""
    arch = bundle.meta.get("architecture", {})
    numpy_ok = (
        arch.get("kind") == "dense"
        and arch.get("activation") in ACTIVATIONS
        and "kernel_0" in bundle.arrays
    )
    if engine == "numpy" and not numpy_ok:
        raise BundleError(f"{bundle.path}: the NumPy engine runs dense models only; use keras")
    if engine in ("auto", "numpy") and numpy_ok:
        return NumpyDense(bundle.arrays, arch["activation"])
    return KerasEngine(keras_model(bundle))
