"""The serve loop's hot path: persistence in array operations, one BLAS thread, the settle poll,
the NumPy engine's errors and the windows gathered as blocks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from detector.core.alarm import BATCH_N, Persistence, PersistenceState
from detector.core.inference import NumpyDense, one_blas_thread
from detector.core.scoring import Scorer
from detector.core.windows import WindowHistory, windows_by_device
from tests.helpers.dense import random_dense
from tests.helpers.serve_loop import FAST, HIGH, NORMAL, loop


def one_by_one(state: PersistenceState, devices: list[str], above: np.ndarray) -> list[bool]:
    """The flags of `update`, reading by reading."""
    return [state.update(d, bool(a)) for d, a in zip(devices, above, strict=True)]


@pytest.mark.parametrize("rule", [Persistence(1, 2), Persistence(3, 5), Persistence(5, 10),
                                  Persistence(10, 20), Persistence(30, BATCH_N),
                                  Persistence(3, BATCH_N + 1)])
def test_a_batch_flags_and_remembers_what_one_reading_at_a_time_does(rule):
    rng = np.random.default_rng(11)
    batched, single = PersistenceState(rule), PersistenceState(rule)
    names = [f"pump-{i}" for i in range(12)]
    for _ in range(60):
        size = int(rng.integers(0, 300))
        devices = [names[i] for i in rng.integers(0, len(names), size)]
        above = rng.random(size) < rng.choice([0.05, 0.4, 0.9])
        flags = batched.update_batch(devices, above)
        assert flags.tolist() == one_by_one(single, devices, above)
        assert list(batched._recent.items()) == list(single._recent.items())  # bits and order


def test_a_full_state_forgets_the_least_recently_seen_device_as_one_by_one_does():
    rule = Persistence(2, 3)
    batched, single = PersistenceState(rule, max_devices=3), PersistenceState(rule, max_devices=3)
    for devices in (["a", "b", "a"], ["c", "b", "d", "a"], ["e", "e", "b"]):
        above = np.ones(len(devices), dtype=bool)
        assert batched.update_batch(devices, above).tolist() == one_by_one(single, devices, above)
        assert list(batched._recent.items()) == list(single._recent.items())


def test_blas_kept_to_one_thread_where_numpy_brought_openblas(tmp_path: Path):
    assert one_blas_thread(tmp_path / "absent") is False
    (tmp_path / "maps").write_text("7f00-7f01 r-xp 00000000 00:00 0 /usr/lib/libc.so.6\n")
    assert one_blas_thread(tmp_path / "maps") is False
    one_blas_thread()  # True with NumPy's own OpenBLAS; either way NumPy still computes
    assert (np.eye(3) @ np.arange(3.0)).tolist() == [0.0, 1.0, 2.0]


def test_batches_awaiting_their_commit_make_the_next_poll_a_short_one():
    t = loop(options=replace(FAST, poll_timeout_ms=500, settle_poll_ms=50))
    timeouts: list[int] = []
    poll = t.consumer.poll

    def recorded(timeout_ms: int = 0, max_records: int | None = None) -> dict:
        timeouts.append(timeout_ms)
        return poll(timeout_ms=timeout_ms, max_records=max_records)

    t.consumer.poll = recorded  # type: ignore[method-assign]
    t.producer.hold = True
    t.read("pump-1", HIGH)
    t.read("pump-1", NORMAL)
    t.daemon.step()  # scored, its event sent, not acknowledged
    t.daemon.step()  # nothing new: a short poll, then waits for the acknowledgement in vain
    assert t.committed() == {}
    t.producer.answer()
    t.daemon.step()  # acknowledged: committed
    assert t.committed() == {0: 2}
    t.daemon.step()  # nothing waits for a commit: the full poll timeout
    assert timeouts == [500, 50, 50, 500]


@pytest.mark.parametrize(("window", "activation"), [(1, "linear"), (20, "linear"), (5, "tanh")])
def test_the_numpy_engine_s_errors_are_the_straightforward_reconstruction_s(window, activation):
    scorer = Scorer(random_dense(window, 5, activation, seed=window))
    assert isinstance(scorer.engine, NumpyDense)
    rng = np.random.default_rng(window)
    windows = scorer.engine.mean + scorer.engine.std * rng.normal(0, 3, (700, window, 5))
    windows[0, 0, 1] = 1e200  # squares to inf (and more through the layers), as before

    with np.errstate(over="ignore", invalid="ignore"):
        fast = scorer.score(windows)
        errors, reconstruction = scorer.errors(windows)  # reconstruct, subtract, square, mean

    np.testing.assert_array_equal(fast.reconstruction, reconstruction)
    np.testing.assert_allclose(fast.channel_errors, errors, rtol=1e-12)
    np.testing.assert_allclose(fast.score, errors.mean(axis=1) / scorer.threshold, rtol=1e-12)
    assert not np.isfinite(fast.channel_errors[0]).all()
    assert np.isfinite(fast.channel_errors[1:]).all()
    assert np.array_equal(fast.top_channel, errors.argmax(axis=1))


@pytest.mark.parametrize(("window", "residual"), [(1, "squared"), (1, "absolute"),
                                                (20, "squared")])
def test_linear_layers_multiplied_out_score_as_layer_by_layer_in_batches_of_any_size(window,
                                                                                     residual):
    bundle = random_dense(window, 5, "linear", seed=7, residual=residual)
    scorer, reference = Scorer(bundle), Scorer(bundle)
    assert len(scorer.engine.layers) == 1  # one matrix product a batch
    reference.engine.layers = [(bundle.arrays[f"kernel_{i}"].astype(float),
                                bundle.arrays[f"bias_{i}"].astype(float)) for i in range(2)]
    rng = np.random.default_rng(window)
    windows = scorer.engine.mean + scorer.engine.std * rng.normal(0, 2, (300, window, 5))
    whole = reference.score(windows)

    for size in (1, 2, 7, 300):  # a poll's batch may hold one reading or thousands
        parts = [scorer.score(windows[i : i + size]) for i in range(0, len(windows), size)]
        for field in ("reconstruction", "error", "channel_errors", "score"):
            np.testing.assert_allclose(np.concatenate([getattr(p, field) for p in parts]),
                                       getattr(whole, field), rtol=1e-9, atol=1e-12)
        assert np.concatenate([p.top_channel for p in parts]).tolist() == whole.top_channel.tolist()
        cut = np.median(whole.error)  # a threshold among the errors: half above it
        flags = np.concatenate([p.error for p in parts]) > cut
        assert flags.tolist() == (whole.error > cut).tolist()


def test_windows_of_many_devices_streamed_in_batches_are_those_of_the_whole():
    rng = np.random.default_rng(5)
    values = rng.normal(size=(6000, 5))
    devices = [f"d{i}" for i in rng.integers(0, 130, 6000)]
    history, got, rows, start = WindowHistory(20, 5, max_devices=200), [], [], 0
    for end in [*sorted(rng.choice(np.arange(1, 6000), 9, replace=False).tolist()), 6000]:
        w, r = history.windows(devices[start:end], values[start:end])
        got.append(w)
        rows.append(r + start)
        start = end
    whole, whole_rows = windows_by_device(values, 20, np.array(devices))

    np.testing.assert_array_equal(np.concatenate(rows), whole_rows)
    np.testing.assert_array_equal(np.concatenate(got), whole)
