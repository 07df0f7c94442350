"""Fault suite: three replicas in one group on six partitions; one is killed, later started again.

A watcher thread describes the group all along (describe_groups): whenever the group is Stable,
every partition has exactly one owner. Handing partitions over must not lose or repeat records:
only the killed replica's uncommitted tail may be read twice, because the survivors commit their
offsets when their partitions are revoked.
"""

from __future__ import annotations

import threading
import time

import pytest
from kafka import KafkaAdminClient

from tests.helpers.faults import assert_complete, assignments, committed_now, offset_of, settle

pytestmark = pytest.mark.both_clients  # docs/testing.md: what runs on both clients

PARTITIONS = 6


class Watcher(threading.Thread):
    """Describes the group every 0.25 s with its own admin client; keeps every answer."""

    def __init__(self, bootstrap: str, group: str) -> None:
        super().__init__(daemon=True)
        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        self.group = group
        self.samples: list[tuple[str, dict[str, list[int]]]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.samples.append(assignments(self.admin, self.group))
            except Exception as exc:  # a failed description is no sample, not a failure
                print(f"describe_groups: {exc}")
            self.done.wait(0.25)

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=30)
        self.admin.close()

    def stable(self) -> list[dict[str, list[int]]]:
        """The assignments seen while the group was Stable."""
        return [owned for state, owned in self.samples if state == "Stable"]

    def wait_members(self, count: int, timeout: float = 90.0) -> dict[str, list[int]]:
        """Until a Stable sample shows `count` members; that sample."""
        deadline = time.monotonic() + timeout
        seen = len(self.samples)
        while time.monotonic() < deadline:
            fresh, seen = self.samples[seen:], len(self.samples)
            for state, owned in fresh:
                if state == "Stable" and len(owned) == count:
                    return owned
            time.sleep(0.2)
        raise AssertionError(f"no Stable group of {count} members; last {self.samples[-3:]}")


def test_three_replicas_one_killed_then_restarted_keep_one_owner_per_partition(
    start_detector, serve_topics, simulate, kafka_admin, kafka_bootstrap
):
    total = 16_000
    topics = serve_topics(partitions=PARTITIONS)
    watcher = Watcher(kafka_bootstrap, topics.group)
    watcher.start()
    replicas = []
    try:
        replicas += [start_detector(topics, "--batch-size", "500") for _ in range(3)]
        watcher.wait_members(3)
        # 800 readings/s for 20 s: both rebalances below happen while readings flow.
        producer = simulate(topics.readings, total, anomaly_rate=0.02, seed=14, rate=800,
                            devices=30, wait=False)  # 30 devices: keys on every partition
        replicas[0].wait_records(1000)
        killed = set(replicas[0].healthz()[1]["partitions"])
        replicas[0].proc.kill()
        replicas[0].wait()
        at_kill, _ = committed_now(kafka_admin, kafka_bootstrap, topics)
        watcher.wait_members(2)
        replicas.append(start_detector(topics, "--batch-size", "500"))
        watcher.wait_members(3)
        assert producer.wait(timeout=120) == 0
        outcome = settle(kafka_admin, kafka_bootstrap, topics, total)
    except AssertionError:
        print_state(replicas, watcher)  # which member left, and what it said
        raise
    finally:
        watcher.stop()

    stable = watcher.stable()
    sizes = [len(owned) for owned in stable]
    print(f"killed a replica owning {sorted(killed)} (committed then {at_kill}); "
          f"{len(watcher.samples)} descriptions, {len(stable)} Stable, members seen "
          f"{sorted(set(sizes))}")
    assert len(killed) == 2  # the range assignor: two partitions each of three replicas
    for owned in stable:
        held = [p for parts in owned.values() for p in parts]
        assert sorted(held) == list(range(PARTITIONS)), f"not one owner per partition: {owned}"
    assert_complete(outcome, total)
    # Only the killed replica's uncommitted tail may be read twice; the survivors committed
    # their offsets on revocation, so their handed-over partitions repeat nothing.
    for event in outcome.duplicates:
        partition, offset = offset_of(event)
        assert partition in killed and offset >= at_kill[partition], f"{event} read twice"
    survivors = replicas[1:3]
    assert any("on revocation" in r.log for r in survivors), "no commit on revocation"
    for replica in replicas[1:]:
        assert replica.proc.poll() is None
        assert replica.stop() == 0


def print_state(replicas: list, watcher: Watcher) -> None:
    """Each replica's exit status and the end of its log, and the group's last descriptions."""
    for number, replica in enumerate(replicas):
        print(f"--- replica {number}: exit status {replica.proc.poll()}\n{replica.log[-5000:]}")
    print(f"--- the group's last descriptions: {watcher.samples[-10:]}")
