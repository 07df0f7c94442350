"""A poll's Records: each record, every value and every header list at once, on both clients'
adapters, whatever the partitions' messages came in as (the real broker: the both_clients
integration tests)."""

from __future__ import annotations

from confluent_kafka import Message

from detector.brokers.confluent_records import ConfluentRecords, by_partition
from detector.brokers.confluent_sink import ConfluentSink
from detector.brokers.inmemory import Record
from detector.brokers.kafka_tuning import MAX_INFLATED_BYTES
from detector.stream.decode import INFLATED
from detector.stream.ports import Joined, RecordList


def record(partition: int, offset: int, value: bytes | None = b"v") -> Record:
    return Record("readings", partition, offset, b"k", value, [("label", b"normal")], 0)


def message(partition: int, offset: int, value: bytes | None = b"v",
            headers: list | None = None) -> Message:
    return Message(topic="readings", partition=partition, offset=offset, key=b"k", value=value,
                   headers=headers)


def test_joined_partitions_read_as_one_batch_in_order():
    first = RecordList([record(0, 5, b"a"), record(0, 6, b"b")])
    second = ConfluentRecords([message(3, 9, b"c", [("label", b"spike")])])
    joined = Joined([first, RecordList([]), second])
    assert len(joined) == 3
    assert joined.values() == [b"a", b"b", b"c"]
    assert [h[0][1] for h in joined.headers()] == [b"normal", b"normal", b"spike"]
    assert [(r.partition, r.offset) for r in joined] == [(0, 5), (0, 6), (3, 9)]
    assert (joined[2].partition, joined[2].offset, joined[-1].value) == (3, 9, b"c")
    assert [r.offset for r in joined[1:]] == [6, 9]


def test_a_slice_of_records_is_records():
    part = ConfluentRecords([message(0, i, bytes([65 + i])) for i in range(4)])
    tail = part[2:]
    assert isinstance(tail, ConfluentRecords) and tail.values() == [b"C", b"D"]
    assert isinstance(RecordList([record(0, 1)])[:1], RecordList)


def test_librdkafka_values_past_the_gzip_cap_and_tombstones_come_out_as_kafka_pythons_do():
    big = b"x" * (MAX_INFLATED_BYTES + 1)
    part = ConfluentRecords([message(0, 0, b"ok"), message(0, 1, None), message(0, 2, big)])
    assert part.values() == [b"ok", None, INFLATED]
    assert part[2].value == INFLATED and part[1].value is None
    assert part[0].headers == () and part.headers() == [None, None, None]


def test_each_partitions_messages_keep_their_order_whatever_the_runs():
    polled = [message(p, o) for p, o in [(1, 0), (1, 1), (0, 7), (1, 2), (0, 8), (2, 4)]]
    parts = by_partition(polled)
    assert {p: [m.offset() for m in ms] for p, ms in parts.items()} == {
        1: [0, 1, 2], 0: [7, 8], 2: [4]}
    alone = [message(5, o) for o in range(3)]
    assert by_partition(alone) == {5: alone}


class Producer:
    """Counts polls (a stand-in for librdkafka's producer, for this one function)."""

    polls = 0

    def poll(self, timeout: float) -> int:
        self.polls += 1
        return 0


def test_delivery_reports_are_served_once_however_many_acks_ask():
    producer = Producer()
    sink = ConfluentSink(producer, serve_every=60.0)  # type: ignore[arg-type]
    for _ in range(850):
        sink.serve()
    assert producer.polls == 1
    sink.serve_every = 0.0
    sink.serve()
    assert producer.polls == 2


def test_each_adapter_says_where_the_records_at_some_positions_are():
    part = ConfluentRecords([message(4, 20 + i) for i in range(5)])
    listed = RecordList([record(1, 7), record(1, 9)])
    assert part.places([0, 3, 4]) == ([4, 4, 4], [20, 23, 24])
    assert listed.places([1]) == ([1], [9])
    joined = Joined([listed, part])
    assert joined.places([1, 2, 6]) == ([1, 4, 4], [9, 20, 24])
    assert part.places([]) == ([], [])
