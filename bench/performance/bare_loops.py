"""The bare baselines' three loops, written once for both client libraries.

bare_consumer.py (kafka-python) and bare_confluent.py (confluent-kafka) build and close their own
consumers and hand these loops what differs: how to poll, how to touch a batch's values, where a
batch's broker timestamps are, how to commit. Each hook takes a whole batch, so the loops add no
work per record to the baseline.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import numpy as np

B = TypeVar("B")  # one poll's batch, as the client library returns it


def rate(poll: Callable[[float], B], touch: Callable[[B], int], count: int
         ) -> tuple[float, float]:
    """Records/s of polling until `count` records were touched (timed from the first non-empty
    poll); CPU seconds per record. `touch` reads each value of a batch and says how many."""
    seen, started, cpu = 0, 0.0, 0.0
    while seen < count:
        batch = poll(1.0)
        if batch and not started:
            started, cpu = time.perf_counter(), time.process_time()
        seen += touch(batch)
    return seen / (time.perf_counter() - started), (time.process_time() - cpu) / seen


def lags(poll: Callable[[float], B], stamps: Callable[[B], Iterable[float]], count: int
         ) -> np.ndarray:
    """Seconds from each record's broker timestamp (`stamps`, in seconds) to the poll that
    returned it, for the first `count` records."""
    out: list[float] = []
    while len(out) < count:
        batch = poll(1.0)
        now = time.time()
        out += [now - stamp for stamp in stamps(batch)]
    return np.array(out)


def member(step: Callable[[], None], commit: Callable[[], bool], commit_every: float) -> None:
    """A group member's loop until SIGTERM: `step` polls and touches what came; `commit` at most
    every `commit_every` seconds (it says whether it had anything to commit)."""
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    committed = time.monotonic()
    while not stopping:
        step()
        if time.monotonic() - committed >= commit_every and commit():
            committed = time.monotonic()
