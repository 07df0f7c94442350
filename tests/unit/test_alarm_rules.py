"""The alarm rule at its edges: the bounds of k/n, flags that are masks, the rule a bundle records,
and the streaming state's bound, each as a user relies on them."""

import numpy as np
import pytest

from detector.core.alarm import (
    MAX_N,
    Persistence,
    PersistenceState,
    parse_persistence,
    persist,
    persist_by_device,
    persistence_of,
)
from detector.errors import DataError


def test_n_may_be_as_long_as_max_n_and_no_longer():
    assert Persistence(1, MAX_N).n == MAX_N
    with pytest.raises(DataError, match=rf"^persistence needs 1 <= k <= n <= {MAX_N}, got 1/"):
        Persistence(1, MAX_N + 1)


def test_a_huge_number_is_refused_with_the_bound_not_parsed():
    with pytest.raises(DataError, match=rf"^persistence needs 1 <= k <= n <= {MAX_N}, got '1/9"):
        parse_persistence("1/" + "9" * 5000)


@pytest.mark.parametrize("rule", [Persistence(1, 1), Persistence(2, 4), Persistence(7, 9)])
def test_the_rule_a_bundle_records_is_the_rule_it_reads_back(rule):
    assert rule.to_dict() == {"k": rule.k, "n": rule.n}
    assert persistence_of({"persistence": rule.to_dict()}) == rule


@pytest.mark.parametrize("rule", [Persistence(1, 1), Persistence(2, 3)])
def test_flags_are_a_boolean_mask_whatever_the_bits_came_as(rule):
    readings = np.array([10, 11, 12, 13])
    bits = [0, 1, 1, 1]  # integers, as from a sum or a CSV column
    flags = persist(bits, rule)
    by_device = persist_by_device(bits, rule, np.array(["a", "a", "b", "b"]))
    assert flags.dtype == bool and by_device.dtype == bool
    expected = [11, 12, 13] if rule.k == 1 else [12, 13]
    assert readings[flags].tolist() == expected
    assert readings[by_device].tolist() == ([11, 12, 13] if rule.k == 1 else [13])


def test_without_devices_every_row_is_one_device():
    above = np.array([1, 1, 0, 1, 1], dtype=bool)
    rule = Persistence(2, 3)
    assert persist_by_device(above, rule).tolist() == persist(above, rule).tolist() == [
        False, True, True, True, True]


def test_without_persistence_a_reading_is_flagged_exactly_when_above():
    state = PersistenceState(Persistence(1, 1))
    assert [state.update("a", bit) for bit in (True, False, True)] == [True, False, True]
    assert state.update_batch(["a", "b", "a"], [0, 1, 1]).tolist() == [False, True, True]


def test_a_bound_of_one_device_is_allowed_and_below_it_is_refused():
    state = PersistenceState(Persistence(2, 2), max_devices=1)
    state.update("a", True)
    state.update("b", True)
    assert len(state) == 1
    with pytest.raises(DataError, match=r"^max_devices must be at least 1, got 0$"):
        PersistenceState(Persistence(2, 2), max_devices=0)


def test_a_batch_of_new_devices_never_holds_more_than_the_bound():
    rule = Persistence(2, 3)
    batched, single = PersistenceState(rule, max_devices=3), PersistenceState(rule, max_devices=3)
    rng = np.random.default_rng(5)
    for _ in range(20):
        devices = rng.choice(list("abcdef"), size=8).tolist()
        above = (rng.random(8) < 0.6).astype(int)  # integer bits
        flags = batched.update_batch(devices, above)
        assert flags.tolist() == [single.update(d, bool(a)) for d, a in zip(devices, above,
                                                                             strict=True)]
        assert len(batched) <= 3


def test_a_batch_of_integer_bits_flags_as_one_by_one():
    rule = Persistence(2, 3)
    batched, single = PersistenceState(rule), PersistenceState(rule)
    devices = ["a", "b", "a", "a", "b", "b", "a"]
    bits = np.array([[1], [0], [1], [0], [1], [1], [1]])  # a column, integers
    for _ in range(3):  # what a batch leaves behind counts in the next
        flags = batched.update_batch(devices, bits)
        assert flags.tolist() == [single.update(d, bool(b)) for d, b in zip(devices, bits[:, 0],
                                                                             strict=True)]
    assert flags.tolist() == [True, True, True, True, True, True, True]


def test_devices_and_bits_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match=r"^2 devices for 3 bits$"):
        PersistenceState(Persistence(2, 3)).update_batch(["a", "b"], [True, False, True])
