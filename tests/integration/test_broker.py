"""The session's broker is real and usable: records, headers, partitions and consumer groups."""

from __future__ import annotations

import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer


def test_a_record_with_a_header_comes_back_as_sent(kafka_producer, make_topic, consume_all):
    topic = make_topic()
    sent = kafka_producer.send(
        topic, key=b"pump-1", value=b'{"seq": 1}', headers=[("label", b"normal")]
    ).get(timeout=30)

    records = consume_all(topic, min_records=1)

    assert [(r.key, r.value, r.headers) for r in records] == [
        (b"pump-1", b'{"seq": 1}', [("label", b"normal")])
    ]
    assert (records[0].partition, records[0].offset) == (sent.partition, sent.offset)


def test_make_topic_creates_the_partitions_asked_for(kafka_admin: KafkaAdminClient, make_topic):
    topic = make_topic(partitions=3)

    [described] = kafka_admin.describe_topics([topic])

    assert described["error_code"] == 0
    assert sorted(p["partition_index"] for p in described["partitions"]) == [0, 1, 2]


def test_consume_all_returns_every_record_of_every_partition_in_order(
    kafka_producer: KafkaProducer, make_topic, consume_all
):
    topic = make_topic(partitions=3)
    for seq in range(30):
        kafka_producer.send(topic, key=f"dev-{seq % 5}".encode(), value=str(seq).encode())
    kafka_producer.flush(timeout=30)

    records = consume_all(topic, min_records=30)

    assert sorted(int(r.value) for r in records) == list(range(30))
    for partition in {r.partition for r in records}:
        offsets = [r.offset for r in records if r.partition == partition]
        assert offsets == sorted(offsets)


def test_a_consumer_group_resumes_after_its_committed_offset(
    kafka_bootstrap: str, kafka_producer: KafkaProducer, make_topic, make_group
):
    topic, group = make_topic(), make_group()
    assert group != make_group()
    for seq in range(3):
        kafka_producer.send(topic, value=f"first-{seq}".encode())
    kafka_producer.flush(timeout=30)
    assert read_group(kafka_bootstrap, topic, group, 3) == [b"first-0", b"first-1", b"first-2"]

    kafka_producer.send(topic, value=b"second").get(timeout=30)

    assert read_group(kafka_bootstrap, topic, group, 1) == [b"second"]


def read_group(bootstrap: str, topic: str, group: str, count: int) -> list[bytes]:
    """Read count values as a member of group, commit, and leave the group."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    values: list[bytes] = []
    try:
        # Metadata first, as the daemon does: a member that joins without it is assigned nothing.
        for _ in range(100):
            if consumer.partitions_for_topic(topic):
                break
            time.sleep(0.1)
        consumer.subscribe([topic])
        for _ in range(300):
            for part in consumer.poll(timeout_ms=200).values():
                values.extend(record.value for record in part)
            if len(values) >= count:
                break
        consumer.commit()
    finally:
        consumer.close()
    return values
