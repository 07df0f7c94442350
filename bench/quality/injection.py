"""Synthetic faults of SKAB's `other` families, added to normal rows (issue 28; pure NumPy).

The protocol is written in bench/RESULTS.md ("faults of the `other` families injected"). A fault
adds sign · m · σ_c · shape(u) to each of its channels c over L rows starting at `start`: σ_c the
standard deviation (ddof 0) of c over the training rows, u = 0 … L − 1 the row within the fault.

| family | `other`'s fault it stands for | channels | shape | sign |
|---|---|---|---|---|
| temperature step | water supplied at a raised temperature | Temperature, Thermocouple | step | + |
| temperature ramp | the same, warming slowly | Temperature, Thermocouple | ramp | + |
| vibration step | rotor imbalance, sharp / step | Accelerometer1RMS, Accelerometer2RMS | step | + |
| vibration ramp | rotor imbalance, linear | Accelerometer1RMS, Accelerometer2RMS | ramp | + |
| vibration exponential | rotor imbalance, exponential | Accelerometer1RMS, 2RMS | exponential | + |
| vibration pulses | rotor imbalance, Dirac | Accelerometer1RMS, Accelerometer2RMS | pulses | + |
| leak | fluid leak, draining | Volume Flow RateRMS, Pressure | step | − |
| filling | slow rise of the water in the circuit | Volume Flow RateRMS, Pressure | ramp | + |
| cavitation | two-phase flow at the inlet | Volume Flow RateRMS, Pressure | noise | + |
| relation break | one channel leaves the others | Volume Flow RateRMS | step | + |

Shapes: step 1; ramp (u + 1) / L; exponential (e^(4 (u + 1) / L) − 1) / (e^4 − 1); pulses 2 at
every tenth row (u = 0, 10, …), 0 between; noise one N(0, 1) draw per row and channel.
Magnitudes m = 2 and 6; the fault covers scored rows 170–569 (400 rows) of each piece.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

START, LENGTH = 170, 400  # scored rows: the valve faults start 160–178 rows in, last 333–405
MAGNITUDES = (2.0, 6.0)  # in units of each channel's training standard deviation
TEMPERATURES = ("Temperature", "Thermocouple")
VIBRATION = ("Accelerometer1RMS", "Accelerometer2RMS")
WATER = ("Volume Flow RateRMS", "Pressure")


@dataclass(frozen=True)
class Fault:
    """One family: the channels it moves, the shape over the fault's rows and its sign."""

    name: str
    channels: tuple[str, ...]
    shape: str
    sign: float = 1.0


FAULTS = (
    Fault("temperature step", TEMPERATURES, "step"),
    Fault("temperature ramp", TEMPERATURES, "ramp"),
    Fault("vibration step", VIBRATION, "step"),
    Fault("vibration ramp", VIBRATION, "ramp"),
    Fault("vibration exponential", VIBRATION, "exponential"),
    Fault("vibration pulses", VIBRATION, "pulses"),
    Fault("leak", WATER, "step", -1.0),
    Fault("filling", WATER, "ramp"),
    Fault("cavitation", WATER, "noise"),
    Fault("relation break", WATER[:1], "step"),
)


def shape(kind: str, length: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    """The fault's profile over its rows, one column per channel: (length, channels)."""
    u = np.arange(1, length + 1, dtype=float)[:, None]
    if kind == "step":
        profile = np.ones_like(u)
    elif kind == "ramp":
        profile = u / length
    elif kind == "exponential":
        profile = np.expm1(4 * u / length) / np.expm1(4)
    elif kind == "pulses":
        profile = np.where((u - 1) % 10 == 0, 2.0, 0.0)
    elif kind == "noise":
        return rng.standard_normal((length, channels))
    else:
        raise ValueError(f"unknown fault shape {kind!r}")
    return np.repeat(profile, channels, axis=1)


def inject(values: np.ndarray, columns: list[str], fault: Fault, magnitude: float,
           train_rows: int, start: int, seed: int = 0) -> np.ndarray:
    """A copy of `values` (rows, channels named by `columns`) with the fault added over rows
    start … start + LENGTH − 1, in units of each channel's σ over the first `train_rows` rows."""
    if not 0 <= start <= len(values) - LENGTH or start < train_rows:
        raise ValueError(f"a fault of {LENGTH} rows at row {start} leaves the scored rows")
    out = np.array(values, dtype=float, copy=True)
    index = [columns.index(c) for c in fault.channels]
    sd = out[:train_rows, index].std(axis=0)
    profile = shape(fault.shape, LENGTH, len(index), np.random.default_rng(seed))
    out[start:start + LENGTH, index] += fault.sign * magnitude * sd * profile
    return out
