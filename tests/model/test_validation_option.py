"""`detector train --validation`: which fitting windows early stopping watches."""

import json

import numpy as np
import pytest

from detector.core.model import fitting_order
from tests.helpers.bundles import TINY, run_cli


def test_tail_keeps_the_order_so_early_stopping_watches_the_newest_windows():
    assert fitting_order(100, "tail", seed=0).tolist() == list(range(100))


def test_random_validation_draws_from_the_whole_span_and_trains_on_the_newest_too():
    order = fitting_order(100, "random", seed=0)
    assert sorted(order.tolist()) == list(range(100))  # every window once
    watched, trained = order[-20:], order[:-20]  # Keras validates on the last fifth it is given
    assert watched.min() < 50 <= watched.max()
    assert np.any(trained >= 80)
    assert fitting_order(100, "random", seed=0).tolist() == order.tolist()
    assert fitting_order(100, "random", seed=1).tolist() != order.tolist()


def test_unknown_validation_is_refused():
    with pytest.raises(ValueError, match="tail, random"):
        fitting_order(10, "newest", seed=0)


def test_train_records_the_validation_and_it_changes_the_model(tmp_path):
    versions = {}
    for choice in ("tail", "random"):
        out = tmp_path / choice
        result = run_cli("train", *TINY, "--validation", choice, "--out", str(out))
        assert result.exit_code == 0, result.output
        meta = json.loads((out / "bundle.json").read_text())
        assert meta["training"]["validation"] == choice
        versions[choice] = meta["version"]
    assert versions["tail"] != versions["random"]
    default = run_cli("train", *TINY, "--out", str(tmp_path / "default"))
    assert default.exit_code == 0, default.output
    assert json.loads((tmp_path / "default" / "bundle.json").read_text())["version"] == versions[
        "tail"
    ]


def test_train_refuses_an_unknown_validation(tmp_path):
    result = run_cli("train", *TINY, "--validation", "newest", "--out", str(tmp_path / "b"))
    assert result.exit_code == 2 and "newest" in result.output
