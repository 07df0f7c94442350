"""The model bundle: a directory with `model.keras`, `bundle.json` and `weights.npz`.

`weights.npz` holds the dense layers' weights and the scaling as plain arrays, so dense models
score with NumPy without importing TensorFlow; `model.keras` is the trained Keras model itself.
Loading checks everything but the Keras model's contents (`detector.core.inference.keras_model`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detector.errors import BundleError

FORMAT = 1
MODEL_FILE = "model.keras"
META_FILE = "bundle.json"
ARRAYS_FILE = "weights.npz"


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle: its metadata and the arrays of `weights.npz`."""

    path: Path
    meta: dict
    arrays: dict[str, np.ndarray]

    @property
    def version(self) -> str:
        return self.meta["version"]

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
    def scale(self) -> np.ndarray:
        """Per-channel standard deviation of the training data, the unit of the error."""
        return np.asarray(self.meta["scale"]["std"], dtype=np.float64)


def content_version(weights: list[np.ndarray], meta: dict) -> str:
    """A short hash of the weights and of every metadata field but the training summary."""
    digest = hashlib.sha256()
    for w in weights:
        digest.update(np.ascontiguousarray(w, dtype=np.float32).tobytes())
    stable = {k: v for k, v in meta.items() if k not in ("version", "training")}
    digest.update(json.dumps(stable, sort_keys=True).encode())
    return digest.hexdigest()[:12]


def save_bundle(out: str | Path, model: Any, meta: dict, arrays: dict[str, np.ndarray]) -> dict:
    """Write the bundle into `out` atomically (a temporary sibling renamed into place)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, **meta}
    meta["version"] = content_version(model.get_weights(), meta)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save(tmp / MODEL_FILE)
        np.savez(tmp / ARRAYS_FILE, **arrays)
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


def read_meta(path: str | Path) -> dict:
    """Read and check `bundle.json`, or raise a BundleError that says what is wrong."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"model bundle {path} not found: train one with `detector train`")
    meta_file = path / META_FILE
    if not meta_file.is_file():
        raise BundleError(f"{path} is not a model bundle: {META_FILE} is missing")
    try:
        meta = json.loads(meta_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{meta_file} is corrupt: {exc}") from exc
    check_meta(meta, meta_file)
    return meta


def check_meta(meta: Any, source: Path) -> None:
    """Fail with a BundleError unless the metadata has every field a scorer needs, sound."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise BundleError(f"{source}: unsupported bundle format (expected format {FORMAT})")
    for key in ("version", "channels", "window", "calibration", "scale"):
        if key not in meta:
            raise BundleError(f"{source}: field {key!r} is missing")
    channels = meta["channels"]
    if not isinstance(channels, list) or not channels:
        raise BundleError(f"{source}: 'channels' must be a non-empty list")
    threshold = (
        meta["calibration"].get("threshold") if isinstance(meta["calibration"], dict) else None
    )
    if not isinstance(threshold, int | float) or not math.isfinite(threshold) or threshold <= 0:
        raise BundleError(f"{source}: the threshold must be a positive number, got {threshold!r}")
    std = meta["scale"].get("std") if isinstance(meta["scale"], dict) else None
    if not isinstance(std, list) or len(std) != len(channels):
        raise BundleError(f"{source}: 'scale.std' must give one number per channel")


def load_bundle(path: str | Path) -> Bundle:
    """Load a bundle's metadata and arrays, checking that the files are whole and agree."""
    path = Path(path)
    meta = read_meta(path)
    model_file = path / MODEL_FILE
    if not model_file.is_file():
        raise BundleError(f"{path} is not a model bundle: {MODEL_FILE} is missing")
    if not zipfile.is_zipfile(model_file):
        raise BundleError(f"{model_file} is corrupt: not a Keras archive")
    arrays_file = path / ARRAYS_FILE
    try:
        with np.load(arrays_file) as stored:
            arrays = {k: stored[k] for k in stored.files}
    except FileNotFoundError as exc:
        raise BundleError(f"{path} is not a model bundle: {ARRAYS_FILE} is missing") from exc
    except (OSError, ValueError, zipfile.BadZipFile) as exc:  # NumPy's advice would be unsafe
        raise BundleError(f"{arrays_file} is corrupt (not a NumPy .npz archive of arrays): "
                          "retrain the bundle or restore it from a copy") from exc
    channels = len(meta["channels"])
    if arrays.get("mean", np.empty(0)).shape != (channels,):
        raise BundleError(f"{arrays_file} does not match {META_FILE}: expected {channels} channels")
    return Bundle(path, meta, arrays)


def require_channels(bundle_channels: list[str], data_channels: list[str], source: str) -> None:
    """Fail unless the data carries every channel of the bundle."""
    missing = [c for c in bundle_channels if c not in data_channels]
    if missing:
        raise BundleError(
            f"{source} does not match the model: it lacks channel(s) {', '.join(missing)} "
            f"(the model was trained on {', '.join(bundle_channels)})"
        )
