"""What one polled batch publishes: its anomaly events and dead letters as producer messages.

Pure: the batch's Kafka records (anything with topic, partition, offset, key, value and headers),
its decoded readings and their scores in; (topic, key, value, headers) tuples out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from detector.delivery import Message
from detector.events import Flagged, anomaly_events, dead_letter_headers
from detector.records import MAX_VALUE_BYTES, Readings
from detector.scoring import Scores


def event_messages(readings_topic: str, anomalies_topic: str, records: Sequence[Any],
                   readings: Readings, scores: Scores, flagged: np.ndarray, model: Any,
                   now: float) -> list[Message]:
    """The anomaly events of the flagged readings (`model`: a detector.reloader.Model)."""
    if not flagged.any():
        return []
    rows = np.flatnonzero(flagged)
    chosen = [records[i] for i in readings.index[rows].tolist()]
    found = Flagged(
        topic=readings_topic,
        partition=np.array([r.partition for r in chosen]),
        offset=np.array([r.offset for r in chosen]),
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


def dead_letter_messages(dlq_topic: str, records: Sequence[Any], readings: Readings
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
        headers = dead_letter_headers(rejection.reason, rejection.message, r.topic,
                                      r.partition, r.offset, fitting(r.headers))
        out.append((dlq_topic, key, value, headers + key_size + value_size))
    return out


def bounded(data: bytes | None, limit: int, name: str) -> tuple[bytes | None, list]:
    """The first `limit` bytes, and an `error.<name>_bytes` header with the size when cut."""
    if data is None or len(data) <= limit:
        return data, []
    return data[:limit], [(f"error.{name}_bytes", str(len(data)).encode())]


def fitting(headers: list | None) -> list:
    """The leading headers whose keys and values together fit MAX_HEADER_BYTES."""
    kept, size = [], 0
    for key, value in headers or ():
        size += len(key) + len(value or b"")
        if size > MAX_HEADER_BYTES:
            break
        kept.append((key, value))
    return kept


def labels_of(records: Sequence[Any]) -> list[bytes | None]:
    """The raw `label` header of each record (None without one); quick when it comes first."""
    return [h[0][1] if (h := r.headers) and h[0][0] == "label" else label_of(h)
            for r in records]


def label_of(headers: list | None) -> bytes | None:
    """The value of the `label` header, if any."""
    for key, value in headers or ():
        if key == "label":
            return value
    return None
