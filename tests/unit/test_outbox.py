"""The outbox gives up after its attempts, and stays given up for every later caller."""

from __future__ import annotations

import threading

import pytest
from kafka.errors import MessageSizeTooLargeError

from detector.delivery import DeliveryError, Outbox


class Refused:
    """A producer future the broker has refused."""

    is_done = True
    exception = MessageSizeTooLargeError()

    def failed(self) -> bool:
        return True


class RefusingProducer:
    """Every send is refused (a unit-test stand-in for a topic that takes no message)."""

    def __init__(self) -> None:
        self.sent = 0

    def send(self, topic, key=None, value=None, headers=None) -> Refused:
        self.sent += 1
        return Refused()

    def flush(self, timeout=None) -> None:
        pass


def test_a_refused_batch_raises_on_every_later_call_and_releases_no_offset():
    producer = RefusingProducer()
    outbox = Outbox(producer, threading.Event(), attempts=3, backoff=0.0)
    outbox.submit([("dlq", b"k", b"v", [])], {"tp": 11})

    with pytest.raises(DeliveryError, match="after 3 attempt"):
        outbox.done(wait=True)  # e.g. the rebalance listener, which only logs it
    with pytest.raises(DeliveryError, match="dlq"):
        outbox.done()  # the serve loop learns it too, and stops

    assert producer.sent == 3
