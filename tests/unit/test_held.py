"""The retrainer's held readings: the last M per device, bounded devices, arrival order."""

import numpy as np

from detector.retrain.held import HeldReadings, Served


def batch(devices, start):
    values = np.arange(start, start + len(devices), dtype=float)[:, None] * np.ones((1, 2))
    return devices, values, ["anomaly" if v % 7 == 0 else "" for v in values[:, 0]]


def test_each_device_keeps_its_newest_readings_in_arrival_order():
    held = HeldReadings(per_device=3, width=2)
    for start in range(0, 40, 8):
        held.add(*batch(["a", "b"] * 4, start))
    snap = held.snapshot()
    assert snap.values[:, 0].tolist() == [34.0, 35.0, 36.0, 37.0, 38.0, 39.0]
    assert snap.devices.tolist() == ["a", "b"] * 3
    assert snap.labels.tolist() == ["", "anomaly", "", "", "", ""]
    assert held.held() == 6 and held.arrived == 40


def test_a_batch_longer_than_the_ring_keeps_its_tail():
    held = HeldReadings(per_device=4, width=2)
    held.add(*batch(["a"] * 10, 0))
    assert held.snapshot().values[:, 0].tolist() == [6.0, 7.0, 8.0, 9.0]


def test_past_max_devices_the_least_recently_seen_device_goes():
    held = HeldReadings(per_device=2, width=2, max_devices=2)
    held.add(*batch(["a", "b"], 0))
    held.add(*batch(["a", "c"], 2))
    assert sorted(set(held.snapshot().devices.tolist())) == ["a", "c"]
    assert held.forgotten == 1


def test_an_empty_memory_has_an_empty_snapshot():
    snap = HeldReadings(per_device=2, width=3).snapshot()
    assert len(snap) == 0 and snap.values.shape == (0, 3)


def test_the_readings_the_replicas_flagged_are_marked_by_partition_and_offset():
    held, served = HeldReadings(per_device=3, width=2), Served()
    where = np.array([[0, 10], [1, 10], [0, 11], [1, 11]])
    held.add(*batch(["a", "b", "a", "b"], 0), where)
    served.add(1, 10)
    served.add(0, 99)  # flagged before its reading arrived
    assert held.snapshot(served).served.tolist() == [False, True, False, False]
    held.add(*batch(["a", "b", "a", "b"], 4), where + np.array([0, 2]))
    held.add(*batch(["a", "b"], 8), where[:2] + np.array([0, 4]))  # a and b hold offsets 12..14 now
    served.prune(held.oldest())
    assert held.oldest() == {0: 12, 1: 12}
    assert served.offsets == {0: {99}, 1: set()}
