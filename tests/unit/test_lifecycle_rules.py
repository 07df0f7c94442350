"""The cleaning rule and the promotion gate (docs/lifecycle.md), as a user of them sees them."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detector.errors import DataError
from detector.lifecycle.cleaning import (
    Cleaning,
    clean,
    clean_as,
    margins_of,
    require_rows,
    runs,
    segments,
)
from detector.lifecycle.gate import REASONS, Stats, decide, evaluation_rows, stats_of

MARGIN, LEAD = 30, 10


def window(n: int = 600, normal: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Scores of a quiet window and its flags (none)."""
    return np.full(n, normal), np.zeros(n, dtype=bool)


def alarm(score: np.ndarray, flags: np.ndarray, start: int, end: int, level: float) -> None:
    """An alarm over rows [start, end) at this score."""
    score[start:end], flags[start:end] = level, True


def test_a_sharp_short_alarm_is_an_incident_left_out_with_its_margin():
    score, flags = window()
    alarm(score, flags, 200, 260, 3.0)
    result = clean(flags, score, margin=MARGIN, lead=LEAD)
    assert [a.kind for a in result.alarms] == ["incident"]
    assert not result.keep[170:290].any() and result.keep[:170].all() and result.keep[290:].all()
    assert result.left_out == {"labelled": 0, "incident": 60, "margin": 60}
    assert result.incident[200:260].all() and result.incident.sum() == 60


def test_a_gradual_alarm_is_drift_and_kept():
    score, flags = window()
    score[120:200] = np.linspace(0.3, 1.0, 80)  # the error creeps up to the threshold
    alarm(score, flags, 200, 400, 1.1)
    result = clean(flags, score, margin=MARGIN, lead=LEAD)
    assert [a.kind for a in result.alarms] == ["drift"]
    assert result.keep.all() and not result.incident.any()


def test_an_alarm_over_the_whole_window_is_stale_and_kept():
    score, flags = window()
    alarm(score, flags, 5, 600, 4.0)
    result = clean(flags, score, margin=MARGIN, lead=LEAD)
    assert result.stale and result.keep.all()


def test_an_alarm_whose_onset_the_window_does_not_show_is_left_out():
    score, flags = window()
    alarm(score, flags, 0, 100, 1.1)
    result = clean(flags, score, margin=MARGIN, lead=LEAD)
    assert [a.kind for a in result.alarms] == ["incident"] and not result.keep[:130].any()


def test_alarms_closer_than_the_margin_are_one():
    score, flags = window()
    alarm(score, flags, 200, 220, 3.0)
    alarm(score, flags, 240, 260, 1.1)  # 20 rows later: the same incident, not a drift
    result = clean(flags, score, margin=MARGIN, lead=LEAD)
    assert len(result.alarms) == 1 and not result.keep[170:290].any()


def test_labelled_rows_are_left_out_with_their_margin_and_checked():
    score, flags = window()
    labels = np.zeros(600, dtype=bool)
    labels[300:350] = True
    result = clean(flags, score, labels, margin=MARGIN, lead=LEAD)
    assert result.left_out == {"labelled": 50, "incident": 0, "margin": 60}
    assert result.incident[300:350].all() and not result.keep[270:380].any()


def test_devices_are_cleaned_apart():
    score, flags = window(200)
    devices = np.repeat(["a", "b"], 100)
    alarm(score, flags, 140, 160, 5.0)
    result = clean(flags, score, devices=devices, margin=10, lead=2)
    assert result.keep[:100].all() and not result.keep[130:170].any()
    assert result.alarms[0].start == 140


def test_too_few_clean_rows_is_one_line():
    score, flags = window(100)
    alarm(score, flags, 40, 60, 5.0)
    with pytest.raises(DataError, match="too few clean rows") as caught:
        require_rows(clean(flags, score, margin=MARGIN, lead=LEAD), 97)
    assert "\n" not in str(caught.value) and "left out 20 incident" in str(caught.value)


def test_margins_come_from_the_bundle():
    assert margins_of({"window": 20, "persistence": {"k": 5, "n": 10}}) == (30, 10)
    assert margins_of({"window": 1}) == (2, 1)


@given(st.lists(st.booleans(), max_size=80), st.integers(1, 10))
def test_runs_cover_exactly_the_true_rows_when_not_joined(bits, join):
    mask = np.array(bits, dtype=bool)
    covered = np.zeros(len(mask), dtype=bool)
    for start, end in runs(mask):
        covered[start:end] = True
    assert np.array_equal(covered, mask)
    joined = runs(mask, join)
    assert all(b[0] - a[1] >= join for a, b in itertools.pairwise(joined))


@given(st.lists(st.booleans(), min_size=1, max_size=80),
       st.lists(st.floats(0, 10), min_size=80, max_size=80), st.integers(1, 12))
def test_the_rule_never_keeps_a_flagged_incident_row(bits, scores, margin):
    flags = np.array(bits, dtype=bool)
    result = clean(flags, np.array(scores[:len(flags)]), margin=margin, lead=1)
    for a in result.alarms:
        assert a.kind != "incident" or not result.keep[a.start:a.end].any()
        assert a.kind == "incident" or result.keep[a.start:a.end].all()
    kept = result.keep.sum() + sum(result.left_out.values())
    assert kept == len(flags)


@given(st.lists(st.booleans(), max_size=60))
def test_segments_change_after_every_hole(keep):
    mask = np.array(keep, dtype=bool)
    ids = segments(mask)[mask]
    rows = np.flatnonzero(mask)
    for i in range(1, len(rows)):
        assert (ids[i] == ids[i - 1]) == (rows[i] == rows[i - 1] + 1)


def stats(rows: int = 100, flags: int = 0, median: float = 0.3, checked: int = 0) -> Stats:
    """A model's figures on a window."""
    return Stats(rows, flags, median, checked)


@pytest.mark.parametrize(("champion", "challenger", "stale", "expected"), [
    (stats(checked=40), stats(checked=19), False, (False, "erases-incident")),
    (stats(checked=40, flags=9), stats(checked=20, flags=1), False, (True, "fewer-flags")),
    (stats(flags=3), stats(rows=0), False, (False, "no-quiet-rows")),
    (stats(flags=90), stats(flags=6), False, (False, "flags-too-much")),
    (stats(flags=100), stats(flags=5), True, (True, "champion-stale")),
    (stats(flags=4), stats(flags=2), False, (True, "fewer-flags")),
    (stats(flags=0, median=0.5), stats(flags=0, median=0.4), False, (True, "closer-fit")),
    (stats(flags=0, median=0.4), stats(flags=0, median=0.4), False, (False, "not-better")),
    (stats(flags=1), stats(flags=2), False, (False, "not-better")),
    (stats(flags=0, median=0.4), stats(flags=0, median=math.nan), False, (False, "not-better")),
])
def test_the_gate_in_its_order(champion, challenger, stale, expected):
    decision = decide(champion, challenger, target_far=0.01, stale=stale)
    assert (decision.promote, decision.reason) == expected


@given(st.integers(0, 50), st.integers(0, 50), st.integers(1, 50), st.integers(0, 50),
       st.integers(0, 50), st.booleans())
def test_the_gate_never_promotes_a_challenger_worse_on_quiet_rows_or_incidents(
        champ_flags, chall_flags, rows, champ_checked, chall_checked, stale):
    champion = stats(rows, min(champ_flags, rows), 0.3, champ_checked)
    challenger = stats(rows, min(chall_flags, rows), 0.3, chall_checked)
    decision = decide(champion, challenger, target_far=0.01, stale=stale)
    assert decision.reason in REASONS
    if decision.promote:
        assert challenger.flag_rate <= 0.05
        assert challenger.checked_flags >= champion.checked_flags / 2
        assert stale or challenger.flag_rate < champion.flag_rate


def test_quiet_rows_are_the_kept_tail_and_checked_rows_the_flagged_incidents():
    score, flags = window()
    alarm(score, flags, 540, 560, 3.0)
    result = clean(flags, score, margin=MARGIN, lead=LEAD)
    quiet, checked = evaluation_rows(result, flags, tail=100)
    assert quiet.sum() == 100 - 20 - 2 * MARGIN + 0 and not quiet[:500].any()
    assert checked.sum() == 20
    figures = stats_of(score, flags, quiet, checked)
    assert figures == Stats(20, 0, 0.3, 20)


def test_the_gate_judges_on_each_devices_newest_rows():
    """Two interleaved devices: the quiet rows are each device's newest `tail`, not the window's."""
    devices = np.array(["a", "b"] * 300 + ["a"] * 100)  # a's last 100 rows come after b's
    kept = Cleaning(np.ones(700, dtype=bool), np.zeros(700, dtype=bool), (), {})
    quiet, _ = evaluation_rows(kept, np.zeros(700, dtype=bool), tail=50, devices=devices)
    assert quiet.sum() == 100
    assert quiet[devices == "a"].sum() == 50 and quiet[devices == "b"].sum() == 50


def test_the_two_extremes_the_rule_lies_between():
    score, flags = window()
    score[120:200] = np.linspace(0.3, 1.0, 80)
    alarm(score, flags, 200, 300, 1.1)  # a drift the rule keeps
    alarm(score, flags, 400, 420, 3.0)  # an incident the rule leaves out
    rule = clean_as("rule", flags, score, margin=MARGIN, lead=LEAD)
    keep_all = clean_as("keep-all", flags, score, margin=MARGIN, lead=LEAD)
    drop = clean_as("drop-flagged", flags, score, margin=MARGIN, lead=LEAD)
    assert keep_all.keep.all() and not keep_all.incident.any()
    assert not drop.keep[170:330].any() and not drop.keep[370:450].any()
    assert rule.keep[200:300].all() and not rule.keep[370:450].any()
    assert drop.kept < rule.kept < keep_all.kept
