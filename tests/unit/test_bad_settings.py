"""Bad settings, without TensorFlow: persistence rules, threshold-follow rules and every field of
bundle.json parse within bounds or end in one line saying what to write; every option of the
offline commands says its range and default in its help."""

from __future__ import annotations

import json

import click
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.cli import main as detector
from detector.core.alarm import MAX_N, Persistence, parse_persistence
from detector.core.follow import MAX_SPAN, parse_follow
from detector.core.schema import parse_meta
from detector.errors import BundleError, DataError
from producer.cli import main as producer

FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


rules = st.builds(lambda k, n: f"{k}/{n}", st.integers(-5, 2000), st.integers(-5, 2000))


@FEW
@given(text=st.one_of(st.text(max_size=12), rules))
def test_persistence_rules_parse_within_bounds_or_say_what_to_write(text):
    try:
        rule = parse_persistence(text)
    except DataError as exc:
        assert "K/N" in str(exc) or "k <= n" in str(exc)
        return
    assert isinstance(rule, Persistence) and 1 <= rule.k <= rule.n <= MAX_N


@FEW
@given(text=st.one_of(st.text(max_size=12), rules, st.just("off")))
def test_threshold_follows_parse_within_bounds_or_say_what_to_write(text):
    try:
        follow = parse_follow(text)
    except DataError as exc:
        assert str(exc).startswith("--threshold-follow ") and "\n" not in str(exc)
        assert "LAG/ROWS" in str(exc) or "ROWS >= 1" in str(exc) or "LAG + ROWS" in str(exc)
        return
    assert not follow.active or (follow.lag >= 0 and follow.rows >= 1
                                 and follow.lag + follow.rows <= MAX_SPAN)


GOOD_META = {
    "format": 1,
    "version": "0123456789ab",
    "channels": ["a", "b"],
    "window": 2,
    "architecture": {"kind": "dense", "hidden": [5, 2], "activation": "linear", "window": 2},
    "scale": {"mean": [0.0, 1.0], "std": [1.0, 2.0]},
    "calibration": {"method": "pot", "target_far": 0.001, "threshold": 0.5},
    "persistence": {"k": 1, "n": 2},
    "training": {"rows": 10},
    "threshold_follow": {"lag": 3, "rows": 2, "median": 0.1, "calibrated_threshold": 0.4},
}
FIELDS = [("format",), ("version",), ("channels",), ("window",), ("architecture", "window"),
          ("architecture", "activation"), ("architecture", "hidden"), ("scale", "std"),
          ("scale", "mean"), ("calibration", "threshold"), ("calibration", "method"),
          ("persistence",), ("persistence", "n"), ("channels", 0), ("scale", "std", 1),
          ("threshold_follow",), ("threshold_follow", "rows"), ("threshold_follow", "median")]
odd_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=8),
    st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.text(max_size=3),
                                                              st.integers(), max_size=2),
)


@FEW
@given(field=st.sampled_from(FIELDS), value=odd_values, drop=st.booleans())
def test_every_field_of_bundle_json_is_checked_in_one_place(field, value, drop):
    meta = json.loads(json.dumps(GOOD_META))
    parent = meta
    for key in field[:-1]:
        parent = parent[key]
    if drop and isinstance(parent, dict):
        parent.pop(field[-1])
    else:
        parent[field[-1]] = value
    try:
        typed = parse_meta(meta, "bundle.json")
    except BundleError as exc:
        assert str(exc).startswith("bundle.json") and "\n" not in str(exc)
        return
    assert typed.window == typed.architecture.window >= 1
    assert len(typed.scale.std) == len(typed.channels) and min(typed.scale.std) > 0
    assert all(isinstance(c, str) and c for c in typed.channels)
    assert np.isfinite(typed.calibration.threshold) and typed.calibration.threshold > 0
    assert 1 <= typed.persistence.k <= typed.persistence.n <= MAX_N
    follow = typed.threshold_follow
    assert follow is None or (follow.lag + follow.rows <= MAX_SPAN and follow.median > 0
                              and np.isfinite(follow.median) and follow.calibrated_threshold > 0)


def test_the_good_metadata_passes():
    assert parse_meta(GOOD_META, "bundle.json").persistence.n == 2


def offline_commands():
    """The offline commands of both command lines."""
    yield from (detector.commands[name] for name in ("train", "score", "evaluate", "info"))
    yield from (producer.commands[name] for name in ("simulate", "seed-data"))


def test_every_option_says_its_range_and_default_in_its_help():
    for command in offline_commands():
        for option in command.params:
            if not isinstance(option, click.Option) or option.is_flag or option.name == "help":
                continue
            assert option.help, (command.name, option.name)
            if option.default is not None and "UNSET" not in repr(option.default):
                assert option.show_default, (command.name, option.name)
            if option.type.name in ("integer", "float"):
                raise AssertionError(f"{command.name} {option.name}: a number without a range")
