"""The model store and `detector models list|rollback`: what the directory serves, and its
history, as a serving replica and an operator see them (real bundle files, no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detector.core.bundle import load_bundle, save_bundle
from detector.lifecycle.store import HISTORY, ModelStore
from tests.helpers.bundles import run_cli
from tests.helpers.dense import ArraysModel


def bundle_at(out: Path, seed: int) -> Path:
    """A whole, valid dense bundle (window 2, channels x and y) whose weights depend on `seed`."""
    rng = np.random.default_rng(seed)
    kernel_0, kernel_1 = rng.normal(size=(4, 3)), rng.normal(size=(3, 4))
    weights = [w.astype(np.float32) for w in (kernel_0, np.zeros(3), kernel_1, np.zeros(4))]
    arrays = {"mean": np.zeros(2), "std": np.ones(2), "kernel_0": weights[0], "bias_0": weights[1],
              "kernel_1": weights[2], "bias_1": weights[3]}
    meta = {"channels": ["x", "y"], "window": 2,
            "architecture": {"kind": "dense", "hidden": [3], "activation": "linear", "window": 2},
            "scale": {"mean": [0.0, 0.0], "std": [1.0, 1.0]}, "calibration": {"threshold": 1.0}}
    save_bundle(out, ArraysModel(weights), meta, arrays)
    return out


def served(directory: Path) -> str:
    """The version a replica loading the directory serves (the whole bundle checked)."""
    return load_bundle(directory).version


@pytest.fixture
def three(tmp_path: Path) -> tuple[Path, list[str]]:
    """A model directory serving its first bundle, and three challengers' versions."""
    directory = bundle_at(tmp_path / "models", 0)
    challengers = [bundle_at(tmp_path / f"c{i}", i) for i in (1, 2, 3)]
    return directory, [served(directory)] + [served(c) for c in challengers]


def test_promote_serves_the_new_bundle_and_keeps_the_old_one(three, tmp_path):
    directory, versions = three
    store = ModelStore(directory)
    assert store.promote(tmp_path / "c1", "fewer-flags") == versions[1]
    assert served(directory) == versions[1]
    assert [e.version for e in store.entries()] == versions[1::-1]
    assert store.entries()[0].reason == "fewer-flags" and store.entries()[0].current


def test_rollback_then_promote_again(three, tmp_path):
    directory, versions = three
    store = ModelStore(directory)
    store.promote(tmp_path / "c1")
    store.promote(tmp_path / "c2")
    assert store.rollback() == versions[1] and served(directory) == versions[1]
    assert store.rollback(versions[0]) == versions[0] and served(directory) == versions[0]
    store.promote(tmp_path / "c2")
    assert served(directory) == versions[2]


def test_the_history_keeps_the_last_k(three, tmp_path):
    directory, versions = three
    store = ModelStore(directory, keep=2)
    for i in (1, 2, 3):
        store.promote(tmp_path / f"c{i}")
    assert [e.version for e in store.entries()] == [versions[3], versions[2]]
    held = sorted(p.name for p in (directory / HISTORY).iterdir() if p.is_dir())
    assert held == sorted(versions[2:])


def test_cli_lists_and_rolls_back(three, tmp_path):
    directory, versions = three
    ModelStore(directory).promote(tmp_path / "c1")
    listed = run_cli("models", "list", str(directory))
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].startswith(f"* {versions[1]}") and lines[1].startswith(f"  {versions[0]}")
    result = run_cli("models", "rollback", str(directory))
    assert result.exit_code == 0 and served(directory) == versions[0]
    assert f"now serves {versions[0]} (was {versions[1]})" in result.output


@pytest.mark.parametrize("version", ["0123456789ab", "../models", "", "x" * 5000])
def test_rollback_to_a_version_not_held_is_one_line_and_changes_nothing(three, tmp_path, version):
    directory, _ = three
    ModelStore(directory).promote(tmp_path / "c1")
    before = {p: p.read_bytes() for p in directory.rglob("*") if p.is_file()}
    result = run_cli("models", "rollback", str(directory), version)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "no model version" in result.stderr
    assert {p: p.read_bytes() for p in directory.rglob("*") if p.is_file()} == before


def test_rollback_without_history_or_bundle_is_one_line(tmp_path):
    directory = bundle_at(tmp_path / "models", 0)
    for args in ((str(directory),), (str(tmp_path / "missing"),)):
        result = run_cli("models", "rollback", *args)
        assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert not (directory / HISTORY).exists()


def test_a_corrupt_history_bundle_is_refused_and_nothing_changes(three, tmp_path):
    directory, versions = three
    store = ModelStore(directory)
    store.promote(tmp_path / "c1")
    (directory / HISTORY / versions[0] / "weights.npz").write_bytes(b"not an archive")
    result = run_cli("models", "rollback", str(directory), versions[0])
    assert result.exit_code == 2 and served(directory) == versions[1]


def test_a_serving_replica_hot_reloads_each_promotion_and_rollback(three, tmp_path):
    from detector.stream.reloader import Reloader, load_model
    from tests.helpers.observability import eventually

    directory, versions = three
    results: list[tuple[str, str]] = []
    reloader = Reloader(directory, load_model(directory), lambda *r: results.append(r),
                        interval=0.05)
    reloader.start()
    try:
        store = ModelStore(directory)
        for change, expected in ((lambda: store.promote(tmp_path / "c1"), versions[1]),
                                 (store.rollback, versions[0])):
            change()
            model = eventually(reloader.take, timeout=30, every=0.05, what="the new bundle")
            assert model.version == expected
    finally:
        reloader.stop()
    assert results == []  # never a half-installed bundle refused
