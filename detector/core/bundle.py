"""The model bundle: a directory with `model.keras`, `bundle.json` and `weights.npz`.

`weights.npz` holds the dense layers' weights and the scaling as plain arrays, so dense models
score with NumPy without importing TensorFlow; `model.keras` is the trained Keras model itself.
Loading checks everything but the Keras model's contents (`detector.core.inference.keras_model`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detector.core.schema import FORMAT, Meta, parse_meta
from detector.errors import BundleError

MAX_META_BYTES = 1 << 20
MODEL_FILE = "model.keras"
META_FILE = "bundle.json"
ARRAYS_FILE = "weights.npz"


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle: its metadata and the arrays of `weights.npz`."""

    path: Path
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @property
    def version(self) -> str:
        return str(self.meta["version"])

    @property
    def channels(self) -> list[str]:
        return list(self.meta["channels"])

    @property
    def window(self) -> int:
        return int(self.meta["window"])

    @property
    def threshold(self) -> float:
        return float(self.meta["calibration"]["threshold"])

    @property
    def residual(self) -> str:
        """How the error averages the gaps: `squared` (also when bundle.json predates it) or
        `absolute`."""
        return str(self.meta.get("residual", "squared"))

    @property
    def centred(self) -> np.ndarray:
        """Which channels enter the model centred on each window's mean (none in older bundles)."""
        names = set(self.meta.get("centred", []))
        return np.array([c in names for c in self.channels], dtype=bool)

    @property
    def combine(self) -> str:
        """How a window's channel errors make its error: `mean` (also in older bundles) or `max`."""
        return str(self.meta.get("combine", "mean"))

    @property
    def scale(self) -> np.ndarray:
        """Per-channel standard deviation of the training data, the unit of the error."""
        return np.asarray(self.meta["scale"]["std"], dtype=np.float64)


def content_weights(arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The model's weights as `weights.npz` holds them, in the order of `model.get_weights()`:
    `weight_0…` when stored whole (conv models), else the dense layers' kernels and biases."""
    if "weight_0" in arrays:
        return [arrays[f"weight_{i}"] for i in range(count_of(arrays, "weight_"))]
    pairs = range(count_of(arrays, "kernel_"))
    return [w for i in pairs for w in (arrays[f"kernel_{i}"], arrays.get(f"bias_{i}", EMPTY))]


EMPTY = np.empty(0, dtype=np.float32)


def count_of(arrays: dict[str, np.ndarray], prefix: str) -> int:
    """How many arrays are named prefix0, prefix1, … without a gap."""
    count = 0
    while f"{prefix}{count}" in arrays:
        count += 1
    return count


def same_weights(first: list[np.ndarray], second: list[np.ndarray]) -> bool:
    """True when two weight lists hold the same arrays (compared as float32)."""
    return len(first) == len(second) and all(
        np.array_equal(np.asarray(a, np.float32), np.asarray(b, np.float32))
        for a, b in zip(first, second, strict=True)
    )


def content_version(weights: list[np.ndarray], meta: dict[str, Any]) -> str:
    """A short hash of the weights and of every metadata field but the training summary."""
    digest = hashlib.sha256()
    for w in weights:
        digest.update(np.ascontiguousarray(w, dtype=np.float32).tobytes())
    stable = {k: v for k, v in meta.items() if k not in ("version", "training")}
    digest.update(json.dumps(stable, sort_keys=True).encode())
    return digest.hexdigest()[:12]


def save_bundle(out: str | Path, model: Any, meta: dict[str, Any], arrays: dict[str, np.ndarray]
                ) -> dict[str, Any]:
    """Write the bundle into `out` atomically (a temporary sibling renamed into place)."""
    out = Path(out)
    weights = [np.asarray(w) for w in model.get_weights()]
    if not same_weights(content_weights(arrays), weights):  # not plain dense: keep them all
        arrays = {**arrays, **{f"weight_{i}": w for i, w in enumerate(weights)}}
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, **meta}
    meta["version"] = content_version(content_weights(arrays), meta)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save(tmp / MODEL_FILE)
        np.savez(tmp / ARRAYS_FILE, **arrays)  # type: ignore[arg-type]
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, allow_nan=False) + "\n")
        os.chmod(tmp, 0o755)
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return meta


def restamp(path: str | Path) -> str:
    """Recompute a bundle's version after a deliberate edit of bundle.json; the new version.

    For tools and tests that change a bundle on purpose (a hand-tuned threshold): anything
    else that changes a bundle makes it refused at load.
    """
    path = Path(path)
    meta = json.loads((path / META_FILE).read_text())
    with np.load(path / ARRAYS_FILE) as stored:
        arrays = {k: stored[k] for k in stored.files}
    meta["version"] = content_version(content_weights(arrays), meta)
    (path / META_FILE).write_text(json.dumps(meta, indent=2, allow_nan=False) + "\n")
    return str(meta["version"])


def read_meta(path: str | Path) -> dict[str, Any]:
    """Read `bundle.json` and check it against the schema, or raise a BundleError saying what is
    wrong; the metadata as parsed (a dict)."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"model bundle {path} not found: train one with `detector train`")
    meta_file = path / META_FILE
    if not meta_file.is_file():
        raise BundleError(f"{path} is not a model bundle: {META_FILE} is missing")
    try:
        if meta_file.stat().st_size > MAX_META_BYTES:
            raise BundleError(f"{meta_file} is corrupt: larger than {MAX_META_BYTES} bytes")
        meta = json.loads(meta_file.read_bytes())
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise BundleError(f"{meta_file} is corrupt: {str(exc).splitlines()[0][:200]}") from exc
    except OSError as exc:
        raise BundleError(f"{meta_file} cannot be read: {exc.strerror or exc}") from exc
    parse_meta(meta, str(meta_file))
    return dict(meta)


def check_meta(meta: Any, source: Path) -> None:
    """Fail with a BundleError unless the metadata follows the schema."""
    parse_meta(meta, str(source))


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of `weights.npz`, or a BundleError."""
    arrays_file = path / ARRAYS_FILE
    try:
        with np.load(arrays_file) as stored:
            return {k: stored[k] for k in stored.files}
    except FileNotFoundError as exc:
        raise BundleError(f"{path} is not a model bundle: {ARRAYS_FILE} is missing") from exc
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:  # NumPy's advice: unsafe
        raise BundleError(f"{arrays_file} is corrupt (not a NumPy .npz archive of arrays): "
                          "retrain the bundle or restore it from a copy") from exc


def check_arrays(meta: Meta, arrays: dict[str, np.ndarray], source: Path) -> None:
    """Fail unless the arrays have the shapes the metadata says: scaling, window and layers."""
    channels = len(meta.channels)
    for name, numbers in (("mean", meta.scale.mean), ("std", meta.scale.std)):
        stored = arrays.get(name, EMPTY)
        if stored.shape != (channels,) or not np.array_equal(stored, numbers):
            raise BundleError(
                f"{source} does not match {META_FILE}: its {name} is not scale.{name} "
                f"({channels} channels)"
            )
    if meta.architecture.kind != "dense" or "kernel_0" not in arrays:
        return
    width = meta.window * channels
    kernels = [arrays[f"kernel_{i}"] for i in range(count_of(arrays, "kernel_"))]
    sizes = [k.shape[1] if k.ndim == 2 else -1 for k in kernels]
    if kernels[0].ndim != 2 or kernels[0].shape[0] != width or sizes[-1] != width:
        raise BundleError(
            f"{source} does not match {META_FILE}: the model takes {kernels[0].shape[0]} inputs, "
            f"but a window of {meta.window} x {channels} channels is {width}"
        )
    if sizes[:-1] != list(meta.architecture.hidden):
        raise BundleError(f"{source} does not match {META_FILE}: its layers are {sizes[:-1]}, "
                          f"the architecture says hidden={meta.architecture.hidden}")


def load_bundle(path: str | Path) -> Bundle:
    """Load a bundle's metadata and arrays, checking that the files are whole, agree with each
    other, and still hold the content their version was computed from."""
    path = Path(path)
    meta = read_meta(path)
    typed = parse_meta(meta, str(path / META_FILE))
    model_file = path / MODEL_FILE
    if not model_file.is_file():
        raise BundleError(f"{path} is not a model bundle: {MODEL_FILE} is missing")
    if not zipfile.is_zipfile(model_file):
        raise BundleError(f"{model_file} is corrupt: not a Keras archive")
    arrays = load_arrays(path)
    check_arrays(typed, arrays, path / ARRAYS_FILE)
    check_version(meta, arrays, path)
    return Bundle(path, meta, arrays)


def check_version(meta: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> None:
    """Fail unless the stored version is the hash of the content (weights and metadata)."""
    weights = content_weights(arrays)
    if not weights:
        raise BundleError(f"{path / ARRAYS_FILE} holds no model weights: retrain the bundle "
                          "(detector train)")
    actual = content_version(weights, meta)
    if actual != meta["version"]:
        raise BundleError(
            f"{path / META_FILE}: the content no longer matches its version {meta['version']} "
            f"(it hashes to {actual}): the bundle was edited or corrupted after training; "
            "retrain it (detector train) or restore it from a copy"
        )


def require_channels(bundle_channels: list[str], data_channels: list[str], source: str) -> None:
    """Fail unless the data carries every channel of the bundle."""
    missing = [c for c in bundle_channels if c not in data_channels]
    if missing:
        raise BundleError(
            f"{source} does not match the model: it lacks channel(s) {', '.join(missing)} "
            f"(the model was trained on {', '.join(bundle_channels)})"
        )
