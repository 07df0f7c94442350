"""A threshold that follows the usual error keeps following across a restart: the warm-up replays
each device's history of error ratios from the partition, so a restarted replica raises the alarms
one uninterrupted replica raises; with no history to replay the threshold is the bundle's T until
the history builds again (more alarms, never fewer)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tests.helpers.serve_loop import FAST, Loop, copy, drain, events, loop

WINDOW, RULE, DEVICES = 3, {"k": 1, "n": 2}, ("pump-a", "pump-b", "pump-c")
NO_PERSISTENCE = {"k": 1, "n": 1}  # the follow history alone needs the replay
FOLLOW = {"lag": 20, "rows": 10, "median": 0.25, "calibrated_threshold": 0.5}  # T = 2 T0
SLOW = replace(FAST, max_records=7)


def drifting(t: Loop, count: int = 600) -> None:
    """Three devices whose level grows from 0.4 to 2.5 (error 0.16 to 6 against T = 1)."""
    rng = np.random.default_rng(5)
    for i in range(count):
        level = 0.4 + 2.1 * i / count + rng.normal(0, 0.05)
        t.read(DEVICES[i % 3], [level, -level])


def served(options=SLOW, follow: dict | None = FOLLOW, rule: dict = RULE) -> tuple[dict, dict]:
    """(the events of one replica reading the stream at once, those of a second member that
    took over after the first scored and committed half of it and was killed)."""
    whole = loop(1, WINDOW, options, rule, follow=follow)
    drifting(whole)
    drain(whole)
    records = whole.broker.topics["readings"][0]
    first = loop(1, WINDOW, options, rule, follow=follow)
    copy(records[:300], first)
    drain(first)
    copy(records[300:], first)
    second = loop(1, WINDOW, options, rule, broker=first.broker, follow=follow)
    drain(second)
    return events(whole), events(second)


@pytest.mark.parametrize("rule", [RULE, NO_PERSISTENCE])
def test_a_restarted_replica_follows_as_one_that_never_stopped(rule: dict):
    whole, restarted = served(rule=rule)
    fixed, _ = served(follow=None, rule=rule)
    assert restarted == whole
    assert 0 < len(whole) < len(fixed) / 3  # the drift: far fewer alarms than a fixed threshold


def test_without_a_history_to_replay_the_threshold_is_t_until_it_builds_again():
    whole, restarted = served(replace(SLOW, warmup_records=0))
    assert set(whole) < set(restarted)  # more alarms after the restart, none lost
