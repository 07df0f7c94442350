"""The vocabulary the producer and the detector share: channels, labels, the reading, ids, errors.

Both packages import it; it imports neither, so the producer stays light (no TensorFlow) and
can ship alone. Pure: the standard library and orjson.
"""

from __future__ import annotations

from typing import Any

import orjson

CHANNELS: tuple[str, ...] = ("col_1", "col_2", "col_3", "col_4", "col_5")  # the simulator's
ANOMALY_KINDS: tuple[str, ...] = ("spike", "drift", "stuck", "correlation_break", "noise_burst")
LABELS: tuple[str, ...] = ("normal", *ANOMALY_KINDS)  # values of a reading's `label` header
LABEL_HEADER = "label"

# The label vocabulary of CSV label columns (compared lower-case, spaces stripped): anything else
# is refused, so a typo never counts as "normal". Empty cells are refused too.
NORMAL_WORDS: tuple[str, ...] = ("0", "0.0", "false", "normal")
ANOMALY_WORDS: tuple[str, ...] = ("1", "1.0", "true", "anomaly", *ANOMALY_KINDS)

# The largest magnitude a channel value may have: float32's, the model's precision. `serve`
# dead-letters a reading beyond it (reason `non_finite`); the offline commands refuse the CSV.
FLOAT32_MAX = 3.4028234663852886e38


def encode_reading(device: str, seq: int, ts: float, values: Any) -> bytes:
    """The wire format of a reading: UTF-8 JSON (values a list, or an object keyed by channel)."""
    return orjson.dumps({"device": device, "seq": seq, "ts": ts, "values": values})


def event_id(topic: str, partition: int, offset: int) -> str:
    """The id of the anomaly event of the reading at this offset: stable across redelivery."""
    return f"{topic}:{partition}:{offset}"


class InputError(Exception):
    """A problem with the user's input or configuration, said in one line (exit status 2)."""

    exit_code = 2


class DataError(InputError):
    """The input data cannot be used (NaN cells, no channels, too few rows...)."""


class OutputError(InputError):
    """An output path cannot be written (a missing folder, a parent that is a file, read-only)."""


def label_truth(text: str) -> bool | None:
    """True for an anomaly label, False for a normal one, None outside the vocabulary."""
    word = text.strip().lower()
    if word in NORMAL_WORDS:
        return False
    return True if word in ANOMALY_WORDS else None
