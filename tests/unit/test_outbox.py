"""The outbox gives up after its attempts, and stays given up for every later caller."""

from __future__ import annotations

import threading

import pytest

from detector.stream.outbox import DeliveryError, Outbox, Refused
from detector.stream.ports import BrokerError, NotAuthorized, SendRefused


class RefusingProducer:
    """Every send is refused (a unit-test stand-in for a topic that takes no message)."""

    def __init__(self, error: BrokerError | None = None, at_once: bool = False) -> None:
        self.sent = 0
        self.error = error or SendRefused("KafkaTimeoutError: Batch expired")
        self.at_once = at_once

    def send(self, topic, key, value, headers) -> Refused:
        self.sent += 1
        if self.at_once:
            raise self.error
        return Refused(self.error)

    def flush(self, timeout=None) -> None:
        pass


def test_a_refused_batch_raises_on_every_later_call_and_releases_no_offset():
    producer = RefusingProducer()
    outbox = Outbox(producer, threading.Event(), attempts=3, backoff=0.0)
    outbox.submit([("dlq", b"k", b"v", [])], {"tp": 11})

    with pytest.raises(DeliveryError, match="after 3 attempt"):
        outbox.done()  # with no backoff, the retries go at once
    with pytest.raises(DeliveryError, match="dlq"):
        outbox.done()  # the serve loop learns it too, and stops

    assert producer.sent == 3


@pytest.mark.parametrize(("error", "at_once"), [
    (SendRefused("MessageSizeTooLargeError: over max_request_size", retriable=False), True),
    (NotAuthorized("TopicAuthorizationFailedError: dlq"), False),
    (NotAuthorized("TopicAuthorizationFailedError: dlq"), True),
])
def test_a_send_that_can_never_succeed_is_not_retried_and_its_real_error_is_named(error,
                                                                                  at_once):
    producer = RefusingProducer(error, at_once=at_once)
    outbox = Outbox(producer, threading.Event(), attempts=6, backoff=0.0)
    outbox.submit([("dlq", b"k", b"v" * 10, [])], {"tp": 11})

    with pytest.raises(DeliveryError, match=str(error).split(":")[0]):
        outbox.done()
    assert producer.sent == 1


def test_a_topic_that_refuses_a_size_is_retried_since_its_limit_can_be_raised():
    producer = RefusingProducer(SendRefused("MessageSizeTooLargeError: topic max.message.bytes"))
    outbox = Outbox(producer, threading.Event(), attempts=4, backoff=0.0)
    outbox.submit([("anomalies", b"k", b"v", [])], {"tp": 11})
    with pytest.raises(DeliveryError, match="after 4 attempt"):
        outbox.done()
    assert producer.sent == 4


class Pending:
    """A producer whose sends wait until `ack` is set; a flush waits in vain meanwhile."""

    def __init__(self) -> None:
        self.acks: list[Held] = []

    def send(self, topic, key, value, headers) -> Held:
        self.acks.append(Held())
        return self.acks[-1]

    def flush(self, timeout=None) -> None:
        pass


class Held:
    def __init__(self) -> None:
        self.answered = False

    def done(self) -> bool:
        return self.answered

    def error(self) -> None:
        return None


def test_a_revocation_takes_only_what_is_acknowledged_in_time_and_the_rest_stays_queued():
    producer = Pending()
    outbox = Outbox(producer, threading.Event(), attempts=3, backoff=0.0)
    outbox.submit([("anomalies", b"k", b"v", None)], {"p0": 5, "p1": 7})
    outbox.submit([("anomalies", b"k", b"v", None)], {"p0": 6})
    assert outbox.acknowledged(within=0.0) == {}  # nothing acknowledged: nothing waits longer
    producer.acks[0].answered = True
    assert outbox.acknowledged(within=0.0) == {"p0": 5, "p1": 7}
    producer.acks[1].answered = True
    assert outbox.done() == {"p0": 6}


class Answering:
    """An ack the client answers (acknowledged) between two looks, as librdkafka's poll does."""

    def __init__(self) -> None:
        self.looks = 0

    def done(self) -> bool:
        self.looks += 1
        return self.looks > 1

    def error(self) -> None:
        return None


class AnsweringProducer(Pending):
    def send(self, topic, key, value, headers) -> Answering:
        return Answering()


def test_an_ack_answered_while_the_outbox_looks_counts_as_acknowledged():
    outbox = Outbox(AnsweringProducer(), threading.Event(), attempts=3, backoff=0.0)
    outbox.submit([("anomalies", b"k", b"v", None)], {"p0": 5})
    assert outbox.done() == {"p0": 5}  # answered, not refused: nothing to retry
