"""Offset commits on the in-memory broker: only what was acknowledged, at most one asynchronous
commit per interval, failures retried and told to the health report, and what a revocation
commits before the partitions go."""

from __future__ import annotations

import logging

from detector.brokers.inmemory import InMemoryBroker, InMemoryConsumer
from detector.stream.offsets import Committer, Rebalance
from detector.stream.ports import (
    BrokerError,
    BrokerUnavailable,
    CommitAnswer,
    Offsets,
    Partition,
    RebalanceInProgress,
)

P0, P1 = Partition("readings", 0), Partition("readings", 1)


class Consumer(InMemoryConsumer):
    """The in-memory consumer; `refuse` makes the next commits raise it, `hold` keeps the answers
    to asynchronous commits until the test gives them, `refuse_at_once` makes commit_async raise
    (as a client does when it cannot even queue the request)."""

    def __init__(self, broker: InMemoryBroker) -> None:
        super().__init__(broker)
        self.refuse: BrokerError | None = None
        self.refuse_at_once: BrokerError | None = None
        self.hold = False
        self.answers: list[tuple[CommitAnswer, Offsets]] = []

    def commit(self, offsets: Offsets) -> None:
        if self.refuse is not None:
            raise self.refuse
        super().commit(offsets)

    def commit_async(self, offsets: Offsets, answer: CommitAnswer) -> None:
        if self.refuse_at_once is not None:
            raise self.refuse_at_once
        if self.hold:
            self.answers.append((answer, offsets))
        else:
            super().commit_async(offsets, answer)


def committer(interval: float = 0.0) -> tuple[Consumer, Committer, list[bool]]:
    """A consumer assigned both partitions, its committer and what the committer reported."""
    consumer = Consumer(InMemoryBroker({"readings": 2}))
    consumer.assigned = frozenset({P0, P1})
    reports: list[bool] = []
    return consumer, Committer(consumer, reports.append, async_interval=interval), reports


def test_what_is_acknowledged_is_committed_and_then_no_longer_pending():
    consumer, offsets, reports = committer()
    assert not offsets.pending()
    offsets.add({P0: 5})
    offsets.add({P0: 7, P1: 2})  # later ones win
    assert offsets.pending()
    offsets.commit()
    assert consumer.commits == [{0: 7, 1: 2}] and reports == [True]
    assert not offsets.pending()
    offsets.commit()  # nothing new: no request
    offsets.commit_async()
    assert consumer.commits == [{0: 7, 1: 2}]


def test_an_asynchronous_commit_asks_once_for_each_new_offset():
    consumer, offsets, reports = committer()
    offsets.add({P0: 5})
    offsets.commit_async()
    offsets.commit_async()  # already asked and answered
    offsets.add({P1: 3})
    offsets.commit_async()
    assert consumer.commits == [{0: 5}, {1: 3}]
    assert not offsets.pending() and reports == []  # only failures are told


def test_at_most_one_asynchronous_commit_per_interval():
    consumer, offsets, _ = committer(interval=3600.0)
    offsets.add({P0: 5})
    offsets.commit_async()
    offsets.add({P0: 9})
    offsets.commit_async()  # within the interval: waits
    assert consumer.commits == [{0: 5}] and offsets.pending()
    offsets.commit()  # idle or closing: commits now, whatever the interval
    assert consumer.commits == [{0: 5}, {0: 9}]


def test_a_partition_no_longer_assigned_is_not_committed_by_this_member():
    consumer, offsets, _ = committer()
    offsets.add({P0: 5, P1: 4})
    consumer.assigned = frozenset({P0})
    offsets.commit_async()
    offsets.commit()
    assert consumer.commits == [{0: 5}] and not offsets.pending()


def test_a_failed_asynchronous_commit_is_asked_again_and_told_to_the_health_report():
    consumer, offsets, reports = committer()
    offsets.add({P0: 5})
    consumer.broker.down = True
    offsets.commit_async()
    assert reports == [False] and offsets.pending()  # the broker did not answer
    consumer.broker.down = False
    offsets.commit_async()
    assert consumer.commits == [{0: 5}] and not offsets.pending()
    consumer.refuse = RebalanceInProgress("the group rebalances")
    offsets.add({P0: 6})
    offsets.commit_async()  # refused at once: the broker answered
    assert reports == [False, True] and offsets.pending()


def test_an_asynchronous_commit_the_client_refuses_at_once_is_asked_again():
    consumer, offsets, reports = committer()
    offsets.add({P0: 5})
    consumer.refuse_at_once = BrokerUnavailable("not connected")
    offsets.commit_async()
    assert reports == [False] and offsets.pending()
    consumer.refuse_at_once = None
    offsets.commit_async()
    assert consumer.commits == [{0: 5}] and not offsets.pending()


def test_each_failure_is_logged_as_what_happens_next(caplog):
    consumer, offsets, _ = committer()
    offsets.add({P0: 5})
    with caplog.at_level(logging.INFO, "detector.stream.offsets"):
        consumer.refuse_at_once = BrokerUnavailable("not connected")
        offsets.commit_async()
        consumer.refuse = RebalanceInProgress("rebalancing")
        offsets.commit()
        consumer.refuse = BrokerUnavailable("timed out")
        offsets.commit()
        listener = Rebalance(offsets, lambda: 1 / 0)
        listener.revoked(frozenset({P1}))
        listener.assigned(frozenset({P1, P0}))
        listener.assigned(frozenset())
        listener.lost(frozenset({P1, P0}))
    assert caplog.messages == [
        "offset commit failed (not connected); will retry",
        "offset commit refused while the group rebalances (rebalancing); will retry",
        "offset commit failed (timed out); will retry",
        "before revocation: division by zero",
        "assigned partition(s) 0, 1",
        "assigned partition(s) none",
        "partition(s) 0, 1 lost (membership expired): they may be read again",
    ]


def test_a_late_failure_of_an_older_commit_does_not_ask_again_for_a_newer_one():
    consumer, offsets, reports = committer()
    consumer.hold = True
    offsets.add({P0: 5})
    offsets.commit_async()
    offsets.add({P0: 7})
    offsets.commit_async()
    (first, five), (second, seven) = consumer.answers
    first(five, BrokerUnavailable("timed out"))
    offsets.commit_async()  # 7 is still asked: no new request
    assert len(consumer.answers) == 2 and reports == [False]
    second(seven, None)
    assert not offsets.pending()


def test_a_failed_commit_keeps_its_offsets_and_tells_the_health_report_only_a_real_failure():
    consumer, offsets, reports = committer()
    offsets.add({P0: 5})
    consumer.refuse = RebalanceInProgress("the group rebalances")
    offsets.commit()
    assert reports == [] and offsets.pending()  # the rebalance, not the broker: retried
    consumer.refuse = BrokerUnavailable("timed out")
    offsets.commit()
    assert reports == [False] and offsets.pending()
    consumer.refuse = None
    offsets.commit()
    assert reports == [False, True] and consumer.commits == [{0: 5}]
    offsets.commit_async()  # what commit() committed counts as asked
    assert consumer.commits == [{0: 5}]


def test_forgotten_partitions_leave_nothing_to_commit():
    consumer, offsets, _ = committer()
    offsets.add({P0: 5, P1: 4})
    offsets.commit_async()
    offsets.add({P0: 8, P1: 6})
    offsets.forget({P0, P1})
    assert not offsets.pending()
    offsets.add({P0: 5})  # the same offset again, as a new owner's would be: not known committed
    offsets.commit_async()
    assert consumer.commits == [{0: 5, 1: 4}, {0: 5}]


def rebalanced(drain) -> tuple[Consumer, Committer, list[list[int]], list[list[Partition]]]:
    """A consumer subscribed with a Rebalance listener, after its first poll (both assigned)."""
    consumer = Consumer(InMemoryBroker({"readings": 2}))
    offsets = Committer(consumer, lambda ok: None)
    gone: list[list[int]] = []
    arrived: list[list[Partition]] = []
    consumer.subscribe("readings", Rebalance(offsets, drain, gone.append, arrived.append))
    consumer.poll(0, 10)
    return consumer, offsets, gone, arrived


def test_a_revocation_commits_the_drained_acknowledgements_of_the_partitions_that_go(caplog):
    consumer, offsets, gone, arrived = rebalanced(lambda: {P1: 9})
    assert [sorted(a) for a in arrived] == [[P0, P1]]
    offsets.add({P0: 3, P1: 4})
    offsets.commit()
    offsets.add({P0: 6})  # not committed yet, but P0 stays
    consumer.rebalance([P0])
    with caplog.at_level(logging.INFO, "detector.stream.offsets"):
        consumer.poll(0, 10)
    assert consumer.commits == [{0: 3, 1: 4}, {1: 9}]  # P1's drained offset, not P0's
    assert gone == [[1]] and arrived[-1] == []
    assert offsets.pending()  # P0's 6 is still to commit
    assert "committed 1 partition(s) on revocation" in caplog.messages


def test_a_revocation_whose_drain_fails_still_lets_the_partitions_go():
    def drain() -> Offsets:
        raise BrokerUnavailable("the outbox could not flush")

    consumer, offsets, gone, _ = rebalanced(drain)
    offsets.add({P1: 4})
    consumer.rebalance([P0])
    consumer.poll(0, 10)
    assert consumer.commits == [{1: 4}] and gone == [[1]] and not offsets.pending()


def test_a_revocation_with_everything_committed_commits_nothing_more():
    consumer, offsets, gone, _ = rebalanced(dict)
    offsets.add({P1: 4})
    offsets.commit()
    consumer.rebalance([P0])
    consumer.poll(0, 10)
    assert consumer.commits == [{1: 4}] and gone == [[1]]


def test_a_failed_commit_on_revocation_is_logged_as_records_that_may_be_read_again(caplog):
    consumer, offsets, _, _ = rebalanced(dict)
    offsets.add({P1: 4})
    consumer.rebalance([P0])
    consumer.refuse = BrokerUnavailable("timed out")
    with caplog.at_level(logging.INFO, "detector.stream.offsets"):
        consumer.poll(0, 10)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["commit on revocation failed (timed out): these records may be read again"]


def test_lost_partitions_are_forgotten_and_told_gone():
    _, offsets, gone, _ = rebalanced(dict)
    offsets.add({P0: 2, P1: 4})
    listener = Rebalance(offsets, dict, gone.append)
    listener.lost(frozenset({P1}))
    assert gone == [[1]]
    assert offsets.uncommitted({}) == {P0: 2}
