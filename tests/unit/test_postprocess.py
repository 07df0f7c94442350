"""The persistence rule: k of a device's last n readings above the threshold, offline and online."""

import numpy as np
import pandas as pd
import pytest

from detector.core.alarm import (
    AlarmRule,
    Persistence,
    PersistenceState,
    above_threshold,
    parse_persistence,
    persist,
    persist_by_device,
    persistence_of,
)
from detector.core.scoring import Scorer
from detector.errors import DataError
from detector.offline.score import score_table
from shared.tables import Table
from tests.helpers.dense import dense_bundle


def test_k_of_n_flags_a_reading_when_enough_recent_ones_are_above():
    above = np.array([1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0], dtype=bool)
    flags = persist(above, Persistence(2, 3))
    assert flags.astype(int).tolist() == [0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 0]
    assert persist(above, Persistence(1, 1)).tolist() == above.tolist()
    assert persist(np.zeros(0, dtype=bool), Persistence(3, 5)).tolist() == []
    assert persist(np.ones(2, dtype=bool), Persistence(3, 5)).tolist() == [False, False]


def test_each_device_has_its_own_last_n():
    devices = np.array(["a", "b", "a", "b", "a", "b"])
    above = np.array([1, 0, 1, 0, 0, 1], dtype=bool)
    flags = persist_by_device(above, Persistence(2, 2), devices)
    assert flags.tolist() == [False, False, True, False, False, False]


@pytest.mark.parametrize("rule", [Persistence(1, 1), Persistence(3, 5), Persistence(10, 20)])
def test_streaming_in_any_batches_gives_the_offline_flags(rule):
    rng = np.random.default_rng(7)
    devices = rng.choice(["pump-1", "pump-2", "pump-3"], size=3000)
    above = rng.random(3000) < 0.4
    offline = persist_by_device(above, rule, devices)
    state = PersistenceState(rule)
    online, start = [], 0
    while start < len(above):
        size = int(rng.integers(1, 200))
        batch = slice(start, start + size)
        online.extend(state.update_batch(devices[batch], above[batch]))
        start += size
    assert np.array_equal(offline, np.array(online))


def test_score_table_flags_what_a_streaming_consumer_with_ring_buffers_flags():
    """The online contract: windows per device from a ring buffer, a reading without a full
    window counts as below the threshold, then the streaming persistence state decides."""
    window, rule = 3, Persistence(2, 4)
    scorer = Scorer(dense_bundle(window, rule.to_dict()))
    rng = np.random.default_rng(3)
    values = rng.normal(0.0, 1.2, size=(600, 2))
    devices = rng.choice(["a", "b", "c"], size=600)
    table = Table(pd.DataFrame({"x": values[:, 0], "y": values[:, 1], "device": devices}),
                  ["x", "y"], values, None)  # fmt: skip
    offline = score_table(scorer, AlarmRule(rule), table, "test")["is_anomaly"]
    offline = offline.to_numpy().astype(bool)

    state, buffers, online = PersistenceState(rule), {}, []
    for row, device in zip(values, devices, strict=True):
        buffer = buffers.setdefault(device, [])
        buffer[:] = [*buffer, row][-window:]
        above = len(buffer) == window and bool(above_threshold(scorer.score(np.array([buffer]))
                                                                .score)[0])
        online.append(state.update(device, above))
    assert 50 < offline.sum() < 550
    assert np.array_equal(offline, np.array(online))


def test_first_window_minus_one_rows_of_each_device_are_unscored_and_unflagged():
    scorer = Scorer(dense_bundle(4))
    values = np.full((12, 2), 5.0)  # far above the threshold everywhere
    devices = np.array(["a", "b"] * 6)
    table = Table(pd.DataFrame({"x": values[:, 0], "y": values[:, 1], "device": devices}),
                  ["x", "y"], values, None)  # fmt: skip
    scored = score_table(scorer, AlarmRule(), table, "test")
    assert scored["error"].isna().tolist() == [True] * 6 + [False] * 6
    assert scored["is_anomaly"].tolist() == [0] * 6 + [1] * 6


def test_state_is_bounded_and_forgets_devices():
    state = PersistenceState(Persistence(2, 2), max_devices=2)
    state.update("a", True)
    state.update("b", True)
    state.update("a", False)
    state.update("c", True)  # b is the least recently seen: forgotten
    assert len(state) == 2
    assert state.update("b", True) is False  # b starts again
    state.forget(["c"])
    assert state.update("c", True) is False
    state.clear()
    assert len(state) == 0


def test_rules_parse_and_bad_ones_say_what_to_write():
    assert parse_persistence("3/5") == Persistence(3, 5)
    assert persistence_of({}) == Persistence(1, 1)
    assert persistence_of({"persistence": {"k": 2, "n": 4}}) == Persistence(2, 4)
    assert str(Persistence(5, 10)) == "5/10"
    for bad in ("0/3", "4/3", "three/5", "1/2/3", "2"):
        with pytest.raises(DataError, match=r"K/N|k <= n"):
            parse_persistence(bad)


def test_a_score_that_is_not_a_number_is_never_normal():
    scores = np.array([0.5, 1.0, 1.0000001, np.nan, np.inf, -np.inf, 3.0])
    assert above_threshold(scores).tolist() == [False, False, True, True, True, True, True]
    rule = AlarmRule(Persistence(1, 1))
    flags = rule.flag_rows(scores, np.ones(len(scores), dtype=bool))
    assert flags.tolist() == above_threshold(scores).tolist()
    unscored = rule.flag_rows(np.full(3, np.nan), np.zeros(3, dtype=bool))
    assert unscored.tolist() == [False] * 3  # no window yet: no score, not above


def test_offline_and_online_flag_non_finite_scores_alike():
    from detector.stream.memory import DeviceMemory

    rule = AlarmRule(Persistence(2, 3))
    scores = np.array([0.2, np.nan, 5.0, 0.1, np.inf, np.nan, 0.3, 0.2, 0.1])
    devices = np.array(["a"] * len(scores))
    offline = rule.flag_rows(scores, np.ones(len(scores), dtype=bool), devices)
    memory = DeviceMemory(1, 2, rule.persistence)
    batches = [slice(i, i + 2) for i in range(0, len(scores), 2)]  # online: batches of two
    online = np.concatenate([memory.flags(devices[b].tolist(), np.arange(len(devices[b])),
                                          rule.above(scores[b])) for b in batches])
    assert offline.tolist() == online.tolist() == [False, False, True, True, True, True, True,
                                                    False, False]
