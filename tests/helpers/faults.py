"""Helpers of the fault suite: what was injected, what was published, what the group committed.

Every fault test ends with `settle(...)` and `assert_complete(...)`: the group's committed
offsets reach the end of the readings topic, and every injected `spike` and `correlation_break`
reading has an anomaly event (found by its event id, `<topic>:<partition>:<offset>`).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from kafka import KafkaAdminClient
from kafka.consumer.fetcher import ConsumerRecord

from tests.helpers.broker import committed, consume_records, end_offsets
from tests.helpers.processes import ServeTopics

INJECTED = (b"spike", b"correlation_break")  # the kinds every fault test must see flagged


def record_id(record: ConsumerRecord) -> str:
    """The event id of a reading record."""
    return f"{record.topic}:{record.partition}:{record.offset}"


def injected_ids(readings: Iterable[ConsumerRecord]) -> set[str]:
    """Event ids of the readings labelled as a spike or a correlation break."""
    return {record_id(r) for r in readings if dict(r.headers or []).get("label") in INJECTED}


def event_ids(events: Iterable[ConsumerRecord]) -> list[str]:
    """The event_id of each anomaly event, in topic order (duplicates kept)."""
    return [json.loads(r.value)["event_id"] for r in events]


def offset_of(event_id: str) -> tuple[int, int]:
    """(partition, offset) of an event id."""
    _, partition, offset = event_id.rsplit(":", 2)
    return int(partition), int(offset)


def full(offsets: dict[int, int], ends: dict[int, int]) -> dict[int, int]:
    """offsets with every partition of ends present (0 where nothing was committed)."""
    return {p: offsets.get(p, 0) for p in ends}


def committed_now(admin: KafkaAdminClient, bootstrap: str,
                  topics: ServeTopics) -> tuple[dict[int, int], dict[int, int]]:
    """(committed, end offsets) of the group on the readings topic, every partition present."""
    ends = end_offsets(bootstrap, topics.readings)
    return full(committed(admin, topics.group, topics.readings), ends), ends


def wait_committed(admin: KafkaAdminClient, bootstrap: str, topics: ServeTopics,
                   timeout: float = 120.0) -> tuple[dict[int, int], dict[int, int]]:
    """(committed, end offsets) once the group has committed the whole topic, or at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        done, ends = committed_now(admin, bootstrap, topics)
        if done == ends or time.monotonic() > deadline:
            return done, ends
        time.sleep(0.5)


def assignments(admin: KafkaAdminClient, group: str) -> tuple[str, dict[str, list[int]]]:
    """The group's state and the partitions each member holds (describe_groups)."""
    info = admin.describe_groups([group])[group]
    owned = {}
    for member in info["members"]:
        assignment = member["member_assignment"] or {}
        owned[member["member_id"]] = sorted(
            p for t in assignment.get("assigned_partitions", []) for p in t["partitions"])
    return info["group_state"], owned


@dataclass
class Outcome:
    """Where a fault test ended: offsets, readings, injected readings and events."""

    committed: dict[int, int]
    ends: dict[int, int]
    readings: list[ConsumerRecord]
    injected: set[str]
    ids: list[str]

    @property
    def duplicates(self) -> dict[str, int]:
        """Event ids published more than once, with their count."""
        return {i: n for i, n in Counter(self.ids).items() if n > 1}

    def summary(self) -> str:
        """One line for the test log."""
        return (f"{len(self.readings)} readings, {len(self.injected)} injected spikes and "
                f"correlation breaks, {len(self.ids)} events ({len(set(self.ids))} distinct, "
                f"{sum(self.duplicates.values()) - len(self.duplicates)} duplicates), "
                f"committed {self.committed} of {self.ends}")


def settle(admin: KafkaAdminClient, bootstrap: str, topics: ServeTopics, total: int,
           timeout: float = 120.0) -> Outcome:
    """Wait for the group to commit the whole readings topic, then read readings and events."""
    done, ends = wait_committed(admin, bootstrap, topics, timeout)
    readings = consume_records(bootstrap, topics.readings, min_records=total)
    events = consume_records(bootstrap, topics.anomalies)  # acknowledged before the commit
    return Outcome(done, ends, readings, injected_ids(readings), event_ids(events))


def assert_complete(outcome: Outcome, total: int) -> None:
    """The end check of every fault: all committed, every injected anomaly has an event."""
    print(outcome.summary())
    assert len(outcome.readings) == total == sum(outcome.ends.values())
    assert outcome.committed == outcome.ends, "the group's offsets stop short of the log's end"
    assert outcome.injected, "the stream held no spike or correlation break"
    missing = outcome.injected - set(outcome.ids)
    assert not missing, f"no event for {len(missing)} injected readings: {sorted(missing)[:3]}"
