"""The events producer's partitioner puts every key where kafka-python's default puts it."""

import pytest
from kafka.partitioner.default import DefaultPartitioner

from detector.brokers.kafka_tuning import KeyedPartitioner


class Cluster:
    """The two questions a partitioner asks of the cluster metadata."""

    def __init__(self, partitions: int) -> None:
        self.partitions = set(range(partitions))

    def topics(self) -> set[str]:
        return {"anomalies"}

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.partitions if topic == "anomalies" else None

    def available_partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.partitions_for_topic(topic)


@pytest.mark.parametrize("partitions", [1, 2, 3, 6, 7, 64])
def test_same_partition_as_the_default_for_every_key_again_and_again(partitions):
    cluster, ours, default = Cluster(partitions), KeyedPartitioner(), DefaultPartitioner()
    keys = [f"device-{i}".encode() for i in range(500)] + [b"", "pömpe-1".encode(), b"\x00" * 9]
    for _ in range(2):  # the second round comes from the remembered hashes
        for key in keys:
            assert (ours.partition("anomalies", key, key, None, b"v", cluster)
                    == default.partition("anomalies", key, key, None, b"v", cluster))


def test_a_topic_without_metadata_is_an_error_and_no_key_is_placed_at_random():
    ours = KeyedPartitioner()
    with pytest.raises(ValueError, match="not found"):
        ours.partition("elsewhere", b"k", b"k", None, b"v", Cluster(3))
    seen = {ours.partition("anomalies", None, None, None, b"v", Cluster(3)) for _ in range(200)}
    assert seen == {0, 1, 2}


def test_it_forgets_past_its_limit():
    ours = KeyedPartitioner()
    ours.limit = 10
    for i in range(25):
        ours.partition("anomalies", b"k%d" % i, b"k%d" % i, None, b"v", Cluster(4))
    assert len(ours.hashes) <= 10
