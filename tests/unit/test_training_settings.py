"""Training settings as typed values: one default each, read back from the command line and from
a bundle's `training_settings`, with their rules holding whichever way they were made."""

from __future__ import annotations

import dataclasses

import click
import pytest
from click.testing import CliRunner

from detector.cli.options import training_options
from detector.core.alarm import Persistence
from detector.core.choices import CalibrateOn, Headroom, Kind, SlowChannels
from detector.core.schema import parse_meta
from detector.core.training_settings import TrainingSettings
from detector.errors import BundleError, DataError


def parsed(*args: str) -> TrainingSettings:
    """The TrainingSettings `detector train`'s options give for ARGS."""
    seen: list[TrainingSettings] = []

    @click.command()
    @training_options
    def probe(out: str, simulate: int | None, columns: str | None,
              settings: TrainingSettings) -> None:
        seen.append(settings)

    result = CliRunner().invoke(probe, ["--out", "m", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return seen[0]


def test_no_option_gives_the_dataclass_defaults():
    assert parsed() == TrainingSettings()
    assert TrainingSettings().hidden == (5, 2)
    assert TrainingSettings(architecture=Kind.CONV).hidden == (32, 16)


def test_options_arrive_typed():
    got = parsed("--architecture", "conv-shared", "--hidden", "8,4", "--window", "16",
                 "--calibrate-on", "training", "--persistence", "3/5", "--slow-channels",
                 "centre", "--epochs", "7", "--target-far", "0.01")
    assert got.architecture is Kind.CONV_SHARED and got.hidden == (8, 4)
    assert got.calibrate_on is CalibrateOn.TRAINING and got.in_sample
    assert got.slow_channels is SlowChannels.CENTRE
    assert got.persistence == Persistence(3, 5) and (got.epochs, got.window) == (7, 16)
    assert got.target_far == 0.01


def test_every_field_is_an_option_with_the_field_s_default():
    command = click.command()(training_options(lambda **_: None))
    options = {p.name: p for p in command.params}
    for field in dataclasses.fields(TrainingSettings):
        default = field.default_factory() if field.default is dataclasses.MISSING else field.default
        assert options[field.name].default == default, field.name


@pytest.mark.parametrize(("changes", "says"), [
    ({"dropout": 0.2}, "--dropout applies to the conv architectures only"),
    ({"horizon": 2.0}, "--horizon applies to --headroom drift only"),
    ({"headroom": Headroom.DRIFT, "gap_power": 1.0}, "give one of them"),
    ({"headroom": Headroom.DRIFT, "calibrate_on": CalibrateOn.TRAINING}, "needs held-out data"),
    ({"slow_channels": SlowChannels.CENTRE}, "needs windows"),
    ({"epochs": 0}, "--epochs must be >= 1, got 0"),
    ({"target_far": 0.5}, "--target-far must be < 0.5"),
    ({"margin": float("nan")}, "--margin must be"),
])
def test_settings_that_break_a_rule_are_refused_however_they_are_made(changes, says):
    with pytest.raises(DataError, match=says.replace("(", r"\(")):
        TrainingSettings(**changes)
    raw = {**TrainingSettings().to_dict(), **{k: v for k, v in changes.items()
                                                if v == v}}  # NaN cannot go through JSON
    if raw != TrainingSettings().to_dict():
        with pytest.raises(DataError):
            TrainingSettings.from_dict(raw)


def test_settings_survive_their_json_form():
    settings = TrainingSettings(architecture=Kind.CONV, window=8, dropout=0.1,
                                headroom=Headroom.DRIFT, horizon=2.0, persistence=Persistence(2, 4))
    assert TrainingSettings.from_dict(settings.to_dict()) == settings
    assert settings.to_dict()["architecture"] == "conv"
    assert settings.to_dict()["persistence"] == {"k": 2, "n": 4}


def meta_of(window: int) -> dict:
    """A bundle.json as written before it recorded its training settings."""
    return {"format": 1, "version": "0123456789ab", "channels": ["a", "b"], "window": window,
            "architecture": {"kind": "dense", "hidden": [5, 2], "activation": "linear",
                             "window": window},
            "scale": {"mean": [0.0, 0.0], "std": [1.0, 1.0]}, "calibration": {"threshold": 1.0}}


def test_a_bundle_without_training_settings_loads_with_none():
    meta = meta_of(1)
    assert "training_settings" not in meta
    assert parse_meta(meta, "old/bundle.json").training_settings is None


def test_a_bundle_s_training_settings_are_checked():
    meta = meta_of(4)
    good = {**meta, "training_settings": TrainingSettings(window=4).to_dict()}
    assert parse_meta(good, "b.json").training_settings == TrainingSettings(window=4)
    for wrong, says in [({"window": 3}, "'training_settings.window' is 3"),
                        ({"epochs": "many"}, "training_settings.epochs"),
                        ({"dropout": 0.5}, "--dropout applies")]:
        bad = {**good, "training_settings": {**good["training_settings"], **wrong}}
        with pytest.raises(BundleError, match=says):
            parse_meta(bad, "b.json")


def test_settings_a_newer_detector_recorded_are_not_dropped_silently(tmp_path):
    from detector.core.bundle import Bundle
    from detector.offline.recipe import settings_of

    recorded = {**TrainingSettings().to_dict(), "future_knob": 3}
    bundle = Bundle(tmp_path, {"training_settings": recorded}, {})
    with pytest.raises(BundleError, match="future_knob are unknown"):
        settings_of(bundle)
    assert settings_of(Bundle(tmp_path, {}, {})) is None
    assert settings_of(Bundle(tmp_path, {"training_settings": TrainingSettings().to_dict()},
                              {})) == TrainingSettings()
