"""Anomaly events, dead-letter headers and the one-line view of an event (pure).

An event is the JSON of the design's wire format; its key is the device id. Every number in it is
finite: a non-finite error or score (the model overflowed) is written as the largest double, so a
consumer never meets NaN or Infinity.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import orjson

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
    return np.nan_to_num(np.asarray(x, dtype=np.float64), nan=BIGGEST, posinf=BIGGEST,
                         neginf=-BIGGEST)


def event_id(topic: str, partition: int, offset: int) -> str:
    """The id of the event of a reading: stable across redelivery."""
    return f"{topic}:{partition}:{offset}"


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
    threshold = float(finite(np.float64(threshold)))
    names = list(channels)
    out = []
    for i, device in enumerate(flagged.device):
        event = {
            "event_id": event_id(flagged.topic, partition[i], offset[i]),
            "device": device,
            "seq": seq[i],
            "ts": ts[i],
            "values": values[i],
            "reconstruction": reconstruction[i],
            "error": error[i],
            "threshold": threshold,
            "score": score[i],
            "channel_errors": dict(zip(names, channel_errors[i], strict=True)),
            "top_channel": names[top_channel[i]],
            "channels": names,
            "model_version": model_version,
            "detected_at": detected_at,
        }
        out.append((device.encode(), orjson.dumps(event)))
    return out


MAX_MESSAGE_CHARS = 1000  # of a dead letter's error.message


def dead_letter_headers(
    reason: str,
    message: str,
    topic: str,
    partition: int,
    offset: int,
    original: Sequence[tuple[str, bytes]] | None = None,
) -> list[tuple[str, bytes]]:
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


def describe(event: object) -> str:
    """One readable line for an anomaly event: time, device, score, top channel and more.

    Every field is escaped (detector.printable): an event cannot retitle the terminal, move the
    cursor or forge lines.
    """
    from detector.printable import printable, text_of

    def field(name: str) -> str:
        return printable(text_of(event.get(name, "?")))

    if not isinstance(event, dict):
        return f"(not an anomaly event: {printable(text_of(event)[:200])})"
    stamp = iso_time(event.get("ts"))
    score = event.get("score")
    try:
        shown = f"{score:9.2f}" if isinstance(score, int | float) else f"{field('score'):>9}"
    except OverflowError:  # an int too large for a float
        shown = f"{'huge':>9}"
    return (
        f"{stamp}  {field('device'):<14} score {shown}  top {field('top_channel'):<8} "
        f"seq {field('seq')}  model {field('model_version')}  [{field('event_id')}]"
    )


def iso_time(when: object) -> str:
    """Seconds since the epoch as UTC ISO 8601 with milliseconds, or '?'."""
    if not isinstance(when, int | float) or isinstance(when, bool):
        return "?"
    try:
        moment = datetime.fromtimestamp(when, UTC)
    except (OverflowError, OSError, ValueError):
        return "?"
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
