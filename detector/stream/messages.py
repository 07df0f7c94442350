"""What one polled batch publishes: anomaly events and dead letters, as producer messages (pure).

The batch's Kafka records (anything with topic, partition, offset, key, value and headers), its
decoded readings and their scores in; (topic, key, value, headers) tuples out. An event is the JSON
of the design's wire format, keyed by device id; every number in it is finite (a non-finite error
or score is written as the largest double, so a consumer never meets NaN or Infinity). A dead
letter carries the record's key and value (cut to a bounded size), its headers while they fit,
and why and where it came from.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
from msgspec import Raw

from detector.core.scoring import Scores
from detector.stream.decode import MAX_VALUE_BYTES, Readings
from detector.stream.outbox import Message
from detector.stream.ports import Header, Record, Records
from shared.wire import LABEL_HEADER, event_id

if TYPE_CHECKING:
    from detector.stream.reloader import Model

BIGGEST = sys.float_info.max


@dataclass(frozen=True)
class Flagged:
    """The flagged readings of one batch, row-aligned (n rows)."""

    topic: str
    partition: np.ndarray  # (n,) int
    offset: np.ndarray  # (n,) int
    device: Sequence[str]
    seq: np.ndarray  # (n,) int
    ts: np.ndarray  # (n,) float
    values: np.ndarray  # (n, channels)
    reconstruction: np.ndarray  # (n, channels)
    error: np.ndarray  # (n,)
    channel_errors: np.ndarray  # (n, channels)
    score: np.ndarray  # (n,)
    top_channel: np.ndarray  # (n,) channel index


def finite(x: np.ndarray) -> np.ndarray:
    """x as float64 with NaN and ±Infinity replaced by ±the largest double."""
    x = np.asarray(x, dtype=np.float64)
    if np.isfinite(x).all():  # the usual case: nan_to_num's checks cost five times as much
        return x
    return np.asarray(np.nan_to_num(x, nan=BIGGEST, posinf=BIGGEST, neginf=-BIGGEST))


class Event(msgspec.Struct, gc=False):
    """An anomaly event as it goes on the wire (the design's fields, in this order). The fields
    every event of a batch shares are written once per batch and spliced in (msgspec.Raw)."""

    event_id: str
    device: str
    seq: int
    ts: float
    values: list[float]
    reconstruction: list[float]
    error: float
    threshold: msgspec.Raw
    score: float
    channel_errors: Any  # a struct of channel_struct(channels), or a dict of them
    top_channel: str
    channels: msgspec.Raw
    model_version: msgspec.Raw
    detected_at: msgspec.Raw


# msgspec writes a Struct without building a dict per event; orjson took 3-4 times as long per
# event in a batch (bench/RESULTS.md, 2026-12-07). Both write the shortest float that reads back.
_encode = msgspec.json.Encoder().encode


@lru_cache(maxsize=8)
def channel_struct(channels: tuple[str, ...]) -> Callable[..., Any]:
    """What builds an event's channel_errors from the errors in channel order: a struct whose
    fields are named as the channels (no dict per event), or, for names msgspec cannot write as a
    field's (with a quote, a backslash or a control character), a dict."""
    try:
        return msgspec.defstruct(
            "ChannelErrors", [(f"c{i}", float) for i in range(len(channels))],
            rename={f"c{i}": name for i, name in enumerate(channels)}, gc=False)
    except (ValueError, TypeError):
        return lambda *errors: dict(zip(channels, errors, strict=True))


def anomaly_events(
    flagged: Flagged,
    channels: Sequence[str],
    threshold: float,
    model_version: str,
    detected_at: float,
) -> list[tuple[bytes, bytes]]:
    """(key, value) of the anomaly event of every flagged reading."""
    values = finite(flagged.values).tolist()  # Python lists: quicker to index and serialise
    reconstruction = finite(flagged.reconstruction).tolist()
    channel_errors = finite(flagged.channel_errors).tolist()
    error = finite(flagged.error).tolist()
    score = finite(flagged.score).tolist()
    ts = finite(flagged.ts).tolist()
    seq = np.asarray(flagged.seq).tolist()
    partition = np.asarray(flagged.partition).tolist()
    offset = np.asarray(flagged.offset).tolist()
    top_channel = np.asarray(flagged.top_channel).tolist()
    shared = Raw(_encode(float(finite(np.asarray(threshold)))))
    names = list(channels)
    errors_of = channel_struct(tuple(names))
    channel_list, version, at = Raw(_encode(names)), Raw(_encode(model_version)), Raw(_encode(
        float(detected_at)))
    topic, encode = flagged.topic, _encode
    return [
        (device.encode(), encode(Event(
            event_id(topic, partition[i], offset[i]), device, seq[i], ts[i], values[i],
            reconstruction[i], error[i], shared, score[i], errors_of(*channel_errors[i]),
            names[top_channel[i]], channel_list, version, at)))
        for i, device in enumerate(flagged.device)
    ]


MAX_MESSAGE_CHARS = 1000  # of a dead letter's error.message


def dead_letter_headers(
    reason: str,
    message: str,
    topic: str,
    partition: int,
    offset: int,
    original: Sequence[Header] | None = None,
) -> list[Header]:
    """The headers of a dead letter: the record's own headers, then why and where it came from."""
    ours = {"error.reason", "error.message", "source.topic", "source.partition", "source.offset"}
    kept = [(k, v) for k, v in (original or ()) if k not in ours]
    return [
        *kept,
        ("error.reason", reason.encode()),
        ("error.message", message[:MAX_MESSAGE_CHARS].encode("utf-8", "replace")),
        ("source.topic", topic.encode()),
        ("source.partition", str(partition).encode()),
        ("source.offset", str(offset).encode()),
    ]


def event_messages(readings_topic: str, anomalies_topic: str, records: Records,
                   readings: Readings, scores: Scores, flagged: np.ndarray, model: Model,
                   now: float) -> list[Message]:
    """The anomaly events of the flagged readings, by the model that scored them."""
    if not flagged.any():
        return []
    rows = np.flatnonzero(flagged)
    partition, offset = records.places(readings.index[rows].tolist())
    found = Flagged(
        topic=readings_topic,
        partition=np.array(partition),
        offset=np.array(offset),
        device=[readings.device[j] for j in rows.tolist()],
        seq=readings.seq[rows],
        ts=readings.ts[rows],
        values=readings.values[rows],
        reconstruction=scores.reconstruction[rows],
        error=scores.error[rows],
        channel_errors=scores.channel_errors[rows],
        score=scores.score[rows],
        top_channel=scores.top_channel[rows],
    )
    pairs = anomaly_events(found, model.channels, model.scorer.threshold, model.version, now)
    return [(anomalies_topic, key, value, None) for key, value in pairs]


MAX_KEY_BYTES = 1024  # of a dead letter's key; its value keeps at most MAX_VALUE_BYTES
MAX_HEADER_BYTES = 16 * 1024  # of the original headers a dead letter carries


def dead_letter_messages(dlq_topic: str, records: Sequence[Record], readings: Readings
                         ) -> list[Message]:
    """A dead letter for every rejected record: its key and value (cut to a bounded size, the
    original sizes then in headers), its headers while they fit, and the reason headers.

    Bounded so that a dead letter always fits the broker's message size, whatever came in.
    """
    out: list[Message] = []
    for rejection in readings.rejected:
        r = records[rejection.index]
        key, key_size = bounded(r.key, MAX_KEY_BYTES, "key")
        value, value_size = bounded(r.value, MAX_VALUE_BYTES, "value")
        if key is None and value is None:  # a keyless tombstone: Kafka takes no message of neither
            value = b""
        headers = dead_letter_headers(rejection.reason, rejection.message, r.topic,
                                      r.partition, r.offset, fitting(r.headers))
        out.append((dlq_topic, key, value, headers + key_size + value_size))
    return out


def bounded(data: bytes | None, limit: int, name: str) -> tuple[bytes | None, list[Header]]:
    """The first `limit` bytes, and an `error.<name>_bytes` header with the size when cut."""
    if data is None or len(data) <= limit:
        return data, []
    return data[:limit], [(f"error.{name}_bytes", str(len(data)).encode())]


def fitting(headers: Sequence[Header] | None) -> list[Header]:
    """The leading headers whose keys and values together fit MAX_HEADER_BYTES."""
    kept: list[Header] = []
    size = 0
    for key, value in headers or ():
        size += len(key) + len(value or b"")
        if size > MAX_HEADER_BYTES:
            break
        kept.append((key, value))
    return kept


def labels_of(headers: Sequence[Sequence[Header] | None]) -> list[bytes | None]:
    """The raw `label` header of each record's headers (None without one); quick when it comes
    first."""
    return [h[0][1] if h and h[0][0] == LABEL_HEADER else label_of(h) for h in headers]


def label_of(headers: Sequence[Header] | None) -> bytes | None:
    """The value of the `label` header, if any."""
    for key, value in headers or ():
        if key == LABEL_HEADER:
            return value
    return None
