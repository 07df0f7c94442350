"""Record batches the Kafka client cannot read: found, dead-lettered and stepped past.

A batch that inflates past the cap (detector.stream.kafka.cap_gzip), fails its CRC or uses a codec
this machine lacks makes every poll that reaches it fail. `find_unreadable` finds the partition by
polling each assigned partition alone, so the serve loop can dead-letter the offset (a letter with
no key or value: there are none to keep) and step past it one offset at a time: nothing is skipped
silently, and no partition stalls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from detector.stream.kafka import UNREADABLE, InflatedTooLarge, next_offset
from detector.stream.messages import dead_letter_headers
from detector.stream.outbox import Message

log = logging.getLogger(__name__)


def reason_of(error: Exception) -> str:
    """The dead-letter reason of an unreadable batch."""
    return "too_large" if isinstance(error, InflatedTooLarge) else "decode"


def find_unreadable(consumer: Any, timeout_ms: int, readable: Callable[[dict], None]
                    ) -> tuple[Any, Exception] | None:
    """The assigned partition whose next batch cannot be read, with the error; None if none.

    Polls each assigned partition alone (the others paused), once: records that a poll returns
    go to `readable`, to be processed as any batch; the first poll that fails names the partition.
    """
    assigned = sorted(consumer.assignment())
    try:
        for tp in assigned:
            consumer.pause(*[other for other in assigned if other != tp])
            consumer.resume(tp)
            try:
                batch = consumer.poll(timeout_ms=timeout_ms)
            except UNREADABLE as exc:
                return tp, exc
            if batch:
                readable(batch)
    finally:
        consumer.resume(*assigned)
    return None


def unreadable_letter(dlq_topic: str, partition: Any, offset: int, error: Exception) -> Message:
    """The dead letter of an offset whose batch cannot be read: reason headers, empty value."""
    message = f"the record batch holding this offset cannot be read: {error}"
    headers = dead_letter_headers(reason_of(error), message, partition.topic,
                                  partition.partition, offset)
    return (dlq_topic, None, b"", headers)


def step_past(consumer: Any, timeout_ms: int, handle: Callable[[dict], None], warmup: Any,
              outbox: Any, dlq_topic: str, metrics: Any) -> bool:
    """Find the partition whose next batch cannot be read, dead-letter its offset (unless a
    warm-up replays it: it was dead-lettered when first read) and seek past it; False if no
    partition fails alone."""
    found = find_unreadable(consumer, timeout_ms, handle)
    if found is None:
        return False
    tp, error = found
    offset = consumer.position(tp)
    log.error("partition %d offset %d cannot be read (%s): dead-lettered, stepping past",
              tp.partition, offset, error)
    warming = warmup.warming.get(tp)
    if warming is None or offset >= warming.until:
        outbox.submit([unreadable_letter(dlq_topic, tp, offset, error)],
                      {tp: next_offset(offset + 1)})
        metrics.count_rejected([reason_of(error)])
    consumer.seek(tp, offset + 1)
    return True
