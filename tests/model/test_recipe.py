"""A bundle records how it was trained, and `train_like` trains again exactly that way."""

from __future__ import annotations

import json

import numpy as np
import pytest

from detector.cli.offline import training_data
from detector.core.alarm import Persistence
from detector.core.bundle import load_bundle, restamp
from detector.errors import BundleError, DataError
from detector.offline.recipe import settings_of, train_like
from tests.helpers.bundles import run_cli

OPTIONS = ("--simulate", "3000", "--epochs", "3", "--window", "4", "--persistence", "2/3",
           "--seed", "3", "--margin", "1.5")


@pytest.fixture(scope="module")
def champion(trained_bundle):
    return trained_bundle(*OPTIONS)


def test_the_bundle_records_every_setting_it_was_trained_with(champion):
    settings = settings_of(load_bundle(champion))
    assert settings is not None
    assert (settings.window, settings.seed, settings.margin, settings.epochs) == (4, 3, 1.5, 3)
    assert settings.persistence == Persistence(2, 3) and settings.hidden == (5, 2)


def test_the_same_rows_trained_like_the_bundle_give_the_same_bundle(champion, tmp_path):
    values, _, devices, _ = training_data(None, 3000, None, 3)  # what --simulate 3000 --seed 3 read
    again = train_like(champion, values, tmp_path / "again", devices=devices)
    assert load_bundle(again).version == load_bundle(champion).version


def test_new_rows_give_a_new_bundle_trained_the_same_way(champion, tmp_path):
    values, channels, devices, _ = training_data(None, 3000, None, 11)
    new = load_bundle(train_like(champion, values, tmp_path / "new", channels, devices))
    old = load_bundle(champion)
    assert new.version != old.version
    assert new.meta["training_settings"] == old.meta["training_settings"]
    assert new.meta["persistence"] == {"k": 2, "n": 3} and new.window == 4


def test_a_bundle_from_before_the_recipe_loads_but_is_not_retrained(champion, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    for part in champion.iterdir():
        (old / part.name).write_bytes(part.read_bytes())
    meta = json.loads((old / "bundle.json").read_text())
    del meta["training_settings"]
    (old / "bundle.json").write_text(json.dumps(meta))
    restamp(old)
    assert settings_of(load_bundle(old)) is None
    assert "settings     not recorded" in run_cli("info", str(old)).output
    assert "settings     recorded" in run_cli("info", str(champion)).output
    values, _, devices, _ = training_data(None, 3000, None, 3)
    with pytest.raises(BundleError, match="records no training settings"):
        train_like(old, values, tmp_path / "new", devices=devices)
    assert not (tmp_path / "new").exists()


def test_rows_that_do_not_fit_the_recipe_are_refused_and_nothing_is_written(champion, tmp_path):
    values, channels, _, _ = training_data(None, 3000, None, 3)
    cases = [(values[:, :4], None, "do not hold 5 channels"),
             (values, channels[::-1], "are not the model's"),
             (values[:20], None, "too few"),
             (np.where(np.arange(3000)[:, None] == 5, np.nan, values), None, "NaN")]
    for rows, names, says in cases:
        with pytest.raises(DataError, match=says):
            train_like(champion, rows, tmp_path / "new", names)
        assert not (tmp_path / "new").exists()
