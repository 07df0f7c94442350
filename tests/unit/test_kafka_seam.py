"""kafka-python behind the seam: its errors and values become the seam's at the adapter."""

from __future__ import annotations

import pytest
from kafka import OffsetAndMetadata, TopicPartition
from kafka.errors import (
    CommitFailedError,
    GroupAuthorizationFailedError,
    InvalidTopicError,
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    RebalanceInProgressError,
    TopicAuthorizationFailedError,
    UnknownMemberIdError,
)

from detector.brokers.kafka import KafkaSource, broker_error, send_error
from detector.brokers.kafka_clients import HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS
from detector.stream.ports import (
    BrokerError,
    BrokerUnavailable,
    NotAuthorized,
    Partition,
    RebalanceInProgress,
)
from detector.stream.settings import Options


@pytest.mark.parametrize(("error", "seam"), [
    (GroupAuthorizationFailedError("detector"), NotAuthorized),
    (TopicAuthorizationFailedError("readings"), NotAuthorized),
    (CommitFailedError("group rebalanced"), RebalanceInProgress),
    (RebalanceInProgressError(), RebalanceInProgress),
    (UnknownMemberIdError(), RebalanceInProgress),
    (KafkaTimeoutError("no answer"), BrokerUnavailable),
    (KafkaConnectionError("refused"), BrokerUnavailable),
    (NotLeaderForPartitionError(), BrokerError),
])
def test_kafka_python_errors_become_the_seams_keeping_their_name(error, seam):
    translated = broker_error(error)
    assert type(translated) is seam
    assert type(error).__name__ in str(translated)
    assert translated.__cause__ is error


@pytest.mark.parametrize(("error", "at_once", "retriable"), [
    (KafkaTimeoutError("Batch expired"), False, True),
    (KafkaTimeoutError("metadata not there in max_block_ms"), True, True),
    (MessageSizeTooLargeError("topic max.message.bytes"), False, True),  # the topic can grow
    (MessageSizeTooLargeError("over max_request_size"), True, False),  # the client's own limit
    (InvalidTopicError(), False, False),
    (TopicAuthorizationFailedError("anomalies"), False, False),
])
def test_a_refused_send_may_be_retried_unless_no_retry_can_help(error, at_once, retriable):
    assert send_error(error, at_once).retriable is retriable


class Consumer:
    """kafka-python's consumer as far as a commit goes: answers with `error`."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.asked: dict = {}

    def commit_async(self, offsets, callback):
        self.asked = offsets
        callback(offsets, self.error if self.error else object())

    def commit(self, offsets, timeout_ms=None):
        if self.error:
            raise self.error


def test_commits_speak_the_seams_offsets_and_errors():
    source = KafkaSource(Consumer(CommitFailedError("rebalanced")))  # type: ignore[arg-type]
    answers = []
    source.commit_async({Partition("readings", 2): 7}, lambda o, e: answers.append((o, e)))
    assert source.consumer.asked == {TopicPartition("readings", 2): OffsetAndMetadata(7, "", -1)}
    [(offsets, error)] = answers
    assert offsets == {Partition("readings", 2): 7} and isinstance(error, RebalanceInProgress)
    with pytest.raises(RebalanceInProgress):
        source.commit({Partition("readings", 2): 7})
    KafkaSource(Consumer(None)).commit_async({Partition("r", 0): 1},  # type: ignore[arg-type]
                                             lambda o, e: answers.append((o, e)))
    assert answers[-1] == ({Partition("r", 0): 1}, None)


def test_the_revocation_wait_keeps_the_member_well_inside_its_session():
    """The listener blocks kafka-python's IO thread, heartbeats included: silent for at most the
    wait after a heartbeat interval, half the session timeout at worst."""
    silent_ms = Options().revoke_wait * 1000 + HEARTBEAT_INTERVAL_MS
    assert silent_ms <= SESSION_TIMEOUT_MS / 2
