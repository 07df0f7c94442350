"""The outbox on the in-memory broker: batches count in order once acknowledged, only a wait asked
for flushes, a full or backing-off outbox says it is blocked, failed sends are retried alone after
a capped exponential backoff that no call waits out, and giving up says what to do."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from detector.brokers.inmemory import InMemoryBroker, InMemoryProducer
from detector.stream.outbox import DeliveryError, Outbox
from detector.stream.ports import NotAuthorized, SendRefused

P0, P1 = "p0", "p1"  # the outbox only carries offsets: any keys do


class Producer(InMemoryProducer):
    """The in-memory producer whose flush, as a client's, gets the held sends answered."""

    def __init__(self, broker: InMemoryBroker) -> None:
        super().__init__(broker)
        self.flushes = 0
        self.timeouts: list[float] = []

    def flush(self, timeout: float) -> None:
        self.flushes += 1
        self.timeouts.append(timeout)
        if not self.broker.down:
            self.answer()
        super().flush(timeout)


class Clock:
    """A virtual monotonic clock the test moves (no sleeping in unit tests)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def outbox(**options) -> tuple[Producer, Outbox, Clock, threading.Event]:
    producer = Producer(InMemoryBroker())
    clock, stopping = Clock(), threading.Event()
    return producer, Outbox(producer, stopping, clock=clock, **options), clock, stopping


def message(topic: str = "anomalies", value: bytes = b"v") -> tuple:
    return (topic, b"k", value, [])


def test_acknowledged_batches_count_in_order_and_a_pending_one_holds_back_the_later():
    producer, box, _, _ = outbox()
    producer.hold = True
    box.submit([message()], {P0: 5})
    producer.hold = False
    box.submit([message()], {P0: 9, P1: 3})  # acknowledged, but behind a pending batch
    assert box.done() == {} and len(box) == 2
    producer.answer()
    assert box.done() == {P0: 9, P1: 3} and len(box) == 0
    assert box.done() == {}


def test_waiting_flushes_and_without_waiting_nothing_is_flushed():
    producer, box, _, _ = outbox()
    producer.hold = True
    box.submit([message(), message()], {P0: 5})
    assert box.done() == {} and producer.flushes == 0
    assert box.done(wait=5.0) == {P0: 5} and producer.timeouts == [5.0]
    assert len(producer.broker.records("anomalies")) == 2


def test_an_outbox_deeper_than_its_depth_is_blocked_but_waits_only_as_long_as_asked():
    producer, box, _, _ = outbox()  # the serve loop's: two batches in flight
    producer.hold = True
    box.submit([message()], {P0: 1})
    box.submit([message()], {P0: 2})
    assert box.done() == {} and not box.full() and not box.blocked()  # at its depth
    box.submit([message()], {P0: 3})
    assert box.full() and box.blocked()  # the loop pauses its partitions and polls on
    assert box.done() == {} and producer.flushes == 0  # never waits unasked
    assert box.done(wait=0.1) == {P0: 3} and producer.timeouts == [0.1]
    assert not box.blocked()


def test_a_flush_waits_at_most_the_outbox_s_timeout():
    producer, box, _, _ = outbox(timeout=7.5)
    box.submit([message()], {P0: 5})
    box.done(wait=box.timeout)  # closing
    assert producer.timeouts == [7.5]


def test_a_message_goes_out_as_it_was_given():
    producer, box, _, _ = outbox()
    box.submit([("anomalies", b"pump-1", b"{}", [("h", b"1")])], {P0: 1})
    (record,) = producer.broker.records("anomalies")
    assert (record.key, record.value, record.headers) == (b"pump-1", b"{}", [("h", b"1")])


def test_a_batch_half_answered_waits_without_blocking_the_loop():
    producer, box, _, _ = outbox()
    producer.hold = True
    box.submit([message(), message()], {P0: 5})
    producer.pending.pop(0).answer()  # one acknowledged, one still pending
    assert box.done() == {} and producer.flushes == 0


def test_a_refused_send_goes_again_after_its_backoff_while_a_pending_one_waits():
    producer, box, clock, _ = outbox(backoff=0.25)
    producer.hold = True
    producer.failures.append(SendRefused("KafkaTimeoutError: Batch expired"))
    box.submit([message(value=b"refused"), message(value=b"pending")], {P0: 5})
    assert box.done() == {} and box.blocked() and producer.sent == 2  # backing off
    clock.now += 0.2
    assert box.done() == {} and producer.sent == 2
    clock.now += 0.05
    assert box.done() == {} and producer.sent == 3 and not box.blocked()  # the refused one only
    producer.answer()
    assert box.done() == {P0: 5}
    assert sorted(r.value for r in producer.broker.records("anomalies")) == [b"pending",
                                                                             b"refused"]


def test_what_goes_wrong_is_logged_with_what_happens_next(caplog):
    producer, box, clock, _ = outbox(attempts=3, backoff=2.0)
    producer.broker.max_message_bytes = 5
    producer.failures.append(SendRefused("KafkaTimeoutError: Batch expired"))
    with caplog.at_level(logging.DEBUG, "detector.stream.outbox"):
        box.submit([message("anomalies")], {P0: 1})
        box.done()
        clock.now += 2.0
        assert box.done() == {P0: 1}
        producer.broker.down = True
        producer.hold = True
        box.submit([message("anomalies")], {P0: 2})
        box.done(wait=box.timeout)
        with caplog.at_level(logging.INFO, "detector.stream.outbox"):
            box.done(wait=0.1)  # a tick's wait in vain: only a debug line
        producer.broker.down = producer.hold = False
        box.done(wait=box.timeout)
        box.submit([message("dlq", b"123456")], {P0: 3})
        with pytest.raises(DeliveryError):
            box.done()
    assert caplog.messages == [
        "could not publish 1 message(s) to anomalies (KafkaTimeoutError: Batch expired); "
        "attempt 2 of 3 in 2 s, offsets stay uncommitted",
        "flush: 1 send(s) not acknowledged",
        "send to dlq failed at once: MessageSizeTooLargeError: the message is 7 bytes",
        "cannot publish to dlq, retrying would not help: "
        "SendRefused('MessageSizeTooLargeError: the message is 7 bytes')",
    ]


def test_a_flush_the_broker_does_not_answer_is_no_error_and_releases_nothing():
    producer, box, _, _ = outbox()
    producer.broker.down = True
    box.submit([message()], {P0: 5})
    assert box.done(wait=1.0) == {} and len(box) == 1
    producer.broker.down = False
    assert box.done(wait=1.0) == {P0: 5}


def test_a_failed_send_is_sent_again_alone_and_its_batch_counts_once_acknowledged():
    producer, box, clock, _ = outbox(backoff=0.5)
    producer.failures.append(SendRefused("KafkaTimeoutError: Batch expired"))
    box.submit([message(value=b"first"), message(value=b"second")], {P0: 5})
    assert box.done() == {}
    clock.now += 0.5
    assert box.done() == {P0: 5}
    assert producer.sent == 3
    assert sorted(r.value for r in producer.broker.records("anomalies")) == [b"first", b"second"]


def test_a_send_refused_at_once_is_retried_like_a_refused_ack():
    producer, box, _, _ = outbox(backoff=0.0)
    producer.broker.max_message_bytes = 5
    box.submit([message(value=b"123456")], {P0: 5})  # the client refuses it: never retriable
    with pytest.raises(DeliveryError, match="after 1 attempt"):
        box.done()
    assert producer.sent == 0


def test_the_backoff_doubles_up_to_its_cap_and_the_attempts_are_counted():
    producer, box, clock, _ = outbox(attempts=6, backoff=1.0, backoff_max=5.0)
    producer.failures.extend(SendRefused("KafkaTimeoutError: Batch expired") for _ in range(9))
    box.submit([message("dlq")], {P0: 5})
    expected = ("could not publish 1 message(s) to dlq after 6 attempt(s): KafkaTimeoutError: "
                "Batch expired; nothing was committed past them, a restart reads them again")
    delays = []
    with pytest.raises(DeliveryError) as refused:
        while True:
            assert box.done() == {}
            delays.append(box.queue[0].retry_at - clock.now)
            clock.now += delays[-1]
    assert str(refused.value) == expected
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0] and producer.sent == 6
    with pytest.raises(DeliveryError):
        box.done(wait=box.timeout)  # given up for good: every later call says so


def test_a_send_still_unanswered_is_not_sent_again():
    producer, box, clock, _ = outbox(attempts=2, backoff=0.0)
    producer.hold = True  # the client answers each send within its delivery timeout
    box.submit([message("a")], {P0: 5})
    clock.now += 100.0
    assert box.done() == {} and producer.sent == 1 and not box.blocked()


def test_stopping_gives_up_at_once():
    producer, box, _, stopping = outbox(attempts=6, backoff=1.0)
    producer.failures.append(SendRefused("KafkaTimeoutError: Batch expired"))
    stopping.set()
    box.submit([message()], {P0: 5})
    with pytest.raises(DeliveryError, match="after 1 attempt"):
        box.done()
    assert producer.sent == 1


def test_stopping_while_a_batch_backs_off_gives_up_naming_what_is_not_acknowledged():
    producer, box, _, stopping = outbox(attempts=6, backoff=1.0)
    producer.failures.append(SendRefused("KafkaTimeoutError: Batch expired"))
    box.submit([message("a")], {P0: 5})
    producer.hold = True
    box.submit([message("b")], {P0: 6})
    assert box.done() == {} and box.blocked()
    stopping.set()
    with pytest.raises(DeliveryError, match=r"^could not publish 1 message\(s\) to a after 1 "
                                            r"attempt\(s\): KafkaTimeoutError"):
        box.done(wait=box.timeout)
    assert producer.sent == 2


def test_a_topic_this_detector_may_not_write_is_named_with_the_grant_it_needs():
    producer, box, _, _ = outbox(attempts=6, backoff=0.0)
    producer.failures.extend([SendRefused("KafkaTimeoutError: Batch expired"),
                              NotAuthorized("TopicAuthorizationFailedError: dlq")])
    box.submit([message("anomalies"), message("dlq")], {P0: 5})
    with pytest.raises(DeliveryError) as refused:
        box.done()
    assert str(refused.value) == (
        "could not publish 2 message(s) to anomalies, dlq after 1 attempt(s): "
        "TopicAuthorizationFailedError: dlq; nothing was committed past them, a restart reads "
        "them again (grant this detector's Kafka user WRITE on anomalies, dlq)")
    assert producer.sent == 2


def test_stalled_says_how_long_the_oldest_unacknowledged_batch_has_waited():
    producer, box, _, _ = outbox()
    assert box.stalled() == 0.0
    box.submit([message()], {P0: 1})  # acknowledged at once
    assert box.stalled() == 0.0
    producer.hold = True
    box.submit([message()], {P0: 2})
    box.queue[-1].since = time.monotonic() - 100.0  # sent 100 s ago
    assert 100.0 <= box.stalled() < 200.0
    producer.answer()
    assert box.stalled() == 0.0


def test_a_broker_that_never_answers_a_flush_still_lets_an_answered_batch_count():
    producer, box, _, _ = outbox()
    box.submit([message()], {P0: 1})
    producer.broker.down = True
    producer.hold = True
    box.submit([message()], {P0: 2})
    assert box.done(wait=1.0) == {P0: 1} and len(box) == 1
