"""Decode and validate a batch of raw readings (pure: bytes in, arrays and rejections out).

A reading is UTF-8 JSON `{"device": str, "seq": int, "ts": number, "values": [...] | {...}}`;
`values` is a list with one number per channel, or an object keyed by every channel name. A
record that fails is rejected with one reason:

| reason       | when                                                                  |
|--------------|-----------------------------------------------------------------------|
| `empty`      | the value is null (a tombstone) or zero bytes                         |
| `too_large`  | the value is over MAX_VALUE_BYTES (64 KiB), or its gzip batch past 64 MiB    |
| `decode`     | not UTF-8, or not JSON                                                |
| `schema`     | not an object, a field missing or of the wrong type, a bad device name |
| `channels`   | the wrong number of values, or channel names the model does not know  |
| `non_finite` | NaN, Infinity, or a number beyond float32 (the model's precision)     |

A device name is 1 to 128 characters, each a letter, a digit or one of `_ . : @ / # + -` (so
no spaces, control characters or escape sequences reach logs, terminals or headers). Extra fields
are ignored, whatever they hold.

A batch is first parsed record by record with msgspec straight into typed fields, CHUNK records at
a time (the fast path);
only a batch where that fails for some record is parsed again record by record (the careful path).
The careful path tries the same msgspec parse on each record first, so a record's fate never
depends on the batch it came in; only a record msgspec refuses is parsed with orjson and explicit
checks, which name the failure. orjson refuses NaN and Infinity; only a record it refuses is parsed
again by the standard library, to tell `non_finite` from `decode`. No exception but Invalid leaves
a parse: hostile input (deep nesting, huge numbers, any bytes) ends as a rejection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import Annotated

import msgspec
import numpy as np
import orjson

from detector.stream.record_checks import (
    DEVICE_NAME,
    MAX_DEVICE_LENGTH,
    Invalid,
    check_device,
    json_type,
    reparse,
    shown,
)

MAX_VALUE_BYTES = 64 * 1024
INFLATED = b"\x00\xffinflated"  # what a record of a gzip batch past the cap is read as
REASONS: tuple[str, ...] = ("decode", "schema", "channels", "non_finite", "too_large", "empty")
FLOAT32_MAX = float(np.finfo(np.float32).max)
_NUMBER = (int, float)
CHUNK = 256  # records the fast path parses at a time (bench/RESULTS.md, 2026-12-07, session 12)


class CleanReading(msgspec.Struct, gc=False):
    """A reading as the fast path accepts it: typed by msgspec while it parses, no booleans."""

    device: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_DEVICE_LENGTH)]
    seq: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
    ts: float  # a JSON integer becomes a float; JSON has no NaN or Infinity
    values: list[float]


_parse_clean = msgspec.json.Decoder(CleanReading).decode


def parse_clean(raw: bytes) -> CleanReading | None:
    """The record as msgspec types it, or None for anything it refuses (whatever it raises)."""
    try:
        return _parse_clean(raw)
    except Exception:  # DecodeError, RecursionError on deep nesting, MemoryError on hostile input
        return None


@dataclass
class Rejection:
    """A rejected record: its index in the batch, reason and message."""

    index: int
    reason: str
    message: str


@dataclass
class Readings:
    """The valid readings of a batch, as arrays, and the rejected records."""

    index: np.ndarray  # (n,) positions of the valid records in the batch
    device: list[str]
    seq: np.ndarray  # (n,) int64
    ts: np.ndarray  # (n,) float64, seconds since the epoch
    values: np.ndarray  # (n, channels) float64, in the model's channel order
    rejected: list[Rejection] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.device)

    def take(self, rows: np.ndarray) -> Readings:
        """The readings at these rows (a boolean mask or positions); the rejections stay whole."""
        chosen = np.flatnonzero(rows) if rows.dtype == bool else rows
        return Readings(self.index[chosen], [self.device[i] for i in chosen.tolist()],
                        self.seq[chosen], self.ts[chosen], self.values[chosen], self.rejected)


class Decoder:
    """Turns raw record values into Readings for a model with the given channels."""

    def __init__(self, channels: Sequence[str], max_bytes: int = MAX_VALUE_BYTES) -> None:
        self.channels = list(channels)
        self.width = len(self.channels)
        self.names = frozenset(self.channels)
        self.max_bytes = max_bytes
        self.known_devices: set[str] = set()  # names already found valid (bounded)

    def decode(self, raws: Sequence[bytes | None]) -> Readings:
        """Decode and validate every raw value of a batch."""
        readings = self.decode_clean(raws)
        return self.decode_each(raws) if readings is None else readings

    def decode_clean(self, raws: Sequence[bytes | None]) -> Readings | None:
        """The fast path: every record parsed straight into its typed fields; None if any fails.

        `CleanReading` lets through only what `parse` accepts with a list of values, so the
        careful path, which names each failure, is needed only for a batch with a bad record.
        Records are parsed CHUNK at a time into the batch's arrays, so that the parsed objects of
        a chunk are freed before the next and their memory, reused, stays in the CPU's caches.
        """
        n, width = len(raws), self.width
        try:
            if max(map(len, raws)) > self.max_bytes:  # type: ignore[arg-type]  # None: TypeError
                return None
        except (TypeError, ValueError):  # a tombstone's None; an empty batch
            return None
        devices: list[str] = []
        seq = np.empty(n, np.int64)
        ts = np.empty(n, np.float64)
        values = np.empty((n, width), np.float64)
        for start in range(0, n, CHUNK):
            try:
                parsed = list(map(_parse_clean, raws[start:start + CHUNK]))  # type: ignore[arg-type]
            except Exception:  # DecodeError, RecursionError on deep nesting, ...
                return None
            rows = [r.values for r in parsed]
            if set(map(len, rows)) != {width}:
                return None
            end = start + len(parsed)
            devices += [r.device for r in parsed]
            seq[start:end] = [r.seq for r in parsed]
            ts[start:end] = [r.ts for r in parsed]
            # one pass over the floats: a third of np.array's time on a list of rows
            values[start:end] = np.fromiter(chain.from_iterable(rows), np.float64,
                                            len(rows) * width).reshape(len(rows), width)
        if not self.valid_devices(devices):
            return None
        return drop_out_of_range(Readings(np.arange(n, dtype=np.int64), devices, seq, ts, values))

    def decode_each(self, raws: Sequence[bytes | None]) -> Readings:
        """The careful path: parse record by record, rejecting each bad one with its reason."""
        index: list[int] = []
        devices: list[str] = []
        seqs: list[int] = []
        stamps: list[float] = []
        rows: list[list[float]] = []
        rejected: list[Rejection] = []
        parse = self.parse
        for i, raw in enumerate(raws):
            try:
                device, seq, ts, row = parse(raw)
            except Invalid as exc:
                rejected.append(Rejection(i, exc.reason, exc.message))
                continue
            index.append(i)
            devices.append(device)
            seqs.append(seq)
            stamps.append(ts)
            rows.append(row)
        return drop_out_of_range(Readings(
            np.array(index, dtype=np.int64),
            devices,
            np.array(seqs, dtype=np.int64),
            np.array(stamps, dtype=np.float64),
            np.array(rows, dtype=np.float64).reshape(len(rows), self.width),
            rejected,
        ))

    def valid_devices(self, devices: list[str]) -> bool:
        """True when every name follows the device rule (names seen before are not checked)."""
        known = self.known_devices
        new = set(devices) - known
        if not new:
            return True
        if not all(DEVICE_NAME.fullmatch(name) for name in new):
            return False
        if len(known) + len(new) > 100_000:
            known.clear()
        known.update(new)
        return True

    def parse(self, raw: bytes | None) -> tuple[str, int, float, list[float]]:
        """One record's device, seq, ts and values row, or raise Invalid."""
        if not raw:
            raise Invalid("empty", "the record has no value (null or zero bytes)")
        if raw == INFLATED:
            raise Invalid("too_large", "its gzip record batch inflates past 64 MiB; the record "
                          "is not kept")
        if len(raw) > self.max_bytes:
            raise Invalid(
                "too_large", f"the value is {len(raw)} bytes, more than the limit {self.max_bytes}"
            )
        clean = parse_clean(raw)
        if clean is not None and len(clean.values) == self.width:
            check_device(clean.device)
            return clean.device, clean.seq, clean.ts, clean.values
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            obj = reparse(raw, exc)
        if type(obj) is not dict:
            raise Invalid("schema", f"a reading must be a JSON object, got {json_type(obj)}")
        try:
            device = obj["device"]
            seq = obj["seq"]
            ts = obj["ts"]
            values = obj["values"]
        except KeyError as exc:
            raise Invalid("schema", f"field {exc.args[0]!r} is missing") from None
        if type(device) is not str or not device:
            raise Invalid("schema", f"'device' must be a non-empty string, got {json_type(device)}")
        check_device(device)
        if type(seq) is not int or not 0 <= seq < 2**63:
            raise Invalid("schema", f"'seq' must be an integer ≥ 0, got {json_type(seq)}")
        if type(ts) not in _NUMBER:
            raise Invalid("schema", f"'ts' must be a number, got {json_type(ts)}")
        if not math.isfinite(ts):
            raise Invalid("non_finite", f"'ts' is {ts}")
        return device, seq, float(ts), self.row(values)

    def row(self, values: object) -> list[float]:
        """The values in channel order, checked for count, names and types."""
        if type(values) is list:
            if len(values) != self.width:
                raise Invalid(
                    "channels",
                    f"'values' has {len(values)} entries, the model expects {self.width} "
                    f"({', '.join(self.channels)})",
                )
            row = values
        elif type(values) is dict:
            if values.keys() != self.names:
                raise Invalid("channels", self.name_mismatch(values))
            row = [values[c] for c in self.channels]
        else:
            raise Invalid(
                "schema", f"'values' must be a list or an object, got {json_type(values)}"
            )
        for v in row:
            if type(v) is not float and type(v) is not int:
                raise Invalid("schema", f"every value must be a number, got {json_type(v)}")
        return row

    def name_mismatch(self, values: dict[str, object]) -> str:
        """Which channel names an object of values lacks or adds."""
        missing = [c for c in self.channels if c not in values]
        unknown = [shown(k) for k in values if k not in self.names]
        parts = []
        if unknown:
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            parts.append(f"unknown channel(s) {', '.join(unknown[:5])}{more}")
        if missing:
            parts.append(f"missing channel(s) {', '.join(missing)}")
        return f"'values' has {'; '.join(parts)} (the model expects {', '.join(self.channels)})"


def drop_out_of_range(readings: Readings) -> Readings:
    """Reject readings with a value beyond float32 (vectorised: one check for the batch)."""
    values = readings.values
    if not values.size or np.abs(values).max() <= FLOAT32_MAX:  # NaN fails: looked at below
        return readings
    ok = (np.abs(values) <= FLOAT32_MAX).all(axis=1)
    bad = np.flatnonzero(~ok)
    rejected = list(readings.rejected)
    for j in bad:
        worst = float(values[j][np.argmax(~(np.abs(values[j]) <= FLOAT32_MAX))])
        rejected.append(
            Rejection(
                int(readings.index[j]),
                "non_finite",
                f"value {worst!r} is beyond the model's float32 range (±{FLOAT32_MAX:.4g})",
            )
        )
    rejected.sort(key=lambda r: r.index)
    return replace(readings.take(ok), rejected=rejected)
