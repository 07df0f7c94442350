"""The lines `detector evaluate` prints, for any confusion counts: one unit per figure (a
fraction, or percent with `%`), `undefined` exactly where a figure has nothing to count."""

import re

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from detector.core.alarm import Persistence
from detector.offline.evaluate import Evaluation, Quality
from detector.offline.report import evaluation_lines

count = st.integers(0, 10**6)


def printed(q: Quality) -> dict[str, str]:
    """name → value column of each figure line."""
    result = Evaluation(q, {}, 0, np.empty(0), np.empty(0, bool), np.empty(0, bool))
    lines = evaluation_lines(result, 0.25, False, {"method": "pot", "target_far": 0.001},
                             Persistence(), False)
    assert lines[0] == "threshold: 0.25 (the bundle's: pot, aiming at a false-alarm rate of 0.1 %)"
    assert lines[1].startswith("alarm rule: a row is flagged when its error is above")
    return {m[1]: m[2] for line in lines[2:]
            if (m := re.match(r"^(\w+)\s+(undefined|\S+(?: %)?)\s+\(", line))}


@given(count, count, count, count)
def test_each_figure_has_its_unit_or_says_undefined(tp, fp, fn, tn):
    shown = printed(Quality(tp, fp, fn, tn))
    assert (shown["precision"] == "undefined") == (tp + fp == 0)
    assert (shown["recall"] == "undefined") == (tp + fn == 0)
    assert (shown["mar"] == "undefined") == (tp + fn == 0)
    assert (shown["far"] == "undefined") == (fp + tn == 0)
    assert (shown["f1"] == "undefined") == (tp + fp + fn == 0)
    for name in ("precision", "recall", "f1"):
        assert shown[name] == "undefined" or 0 <= float(shown[name]) <= 1
        assert not shown[name].endswith("%")
    for name in ("far", "mar"):
        assert shown[name] == "undefined" or (shown[name].endswith(" %")
                                              and 0 <= float(shown[name][:-2]) <= 100)
    assert [shown[k] for k in ("tp", "fp", "fn", "tn")] == [str(tp), str(fp), str(fn), str(tn)]


def test_a_persistence_rule_is_said_in_words():
    result = Evaluation(Quality(1, 1, 1, 1), {"spike": 0.5}, 0, np.empty(0), np.empty(0, bool),
                        np.empty(0, bool))
    lines = evaluation_lines(result, 2.0, True, {}, Persistence(3, 5), True)
    assert lines[0] == "threshold: 2 (from --threshold)"
    assert "when 3 of its device's last 5 rows have an error above the threshold" in lines[1]
    assert lines[-1].startswith("recall spike") and "0.5000" in lines[-1]
