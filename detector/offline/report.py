"""What `detector evaluate` prints: the threshold and alarm rule it used, then each figure with
its unit (fractions for precision, recall and F1; percent, with a `%`, for the false- and
missed-alarm rates) and `undefined`, with the reason, where a figure has nothing to count."""

from __future__ import annotations

import math

from detector.core.alarm import Persistence
from detector.offline.evaluate import Evaluation, Quality

UNDEFINED = {
    "precision": "nothing was flagged",
    "recall": "no row is labelled anomalous",
    "f1": "no row is flagged or labelled anomalous",
    "far": "no row is labelled normal",
    "mar": "no row is labelled anomalous",
}
MEANING = {
    "precision": "fraction of flagged rows that are labelled anomalous",
    "recall": "fraction of anomalous rows flagged",
    "f1": "fraction, SKAB's TP / (TP + (FP + FN) / 2)",
    "far": "false-alarm rate: percent of normal rows flagged",
    "mar": "missed-alarm rate: percent of anomalous rows not flagged",
}
PERCENT = {"far", "mar"}


def threshold_line(threshold: float, given: bool, calibration: dict) -> str:
    """The threshold used and where it came from (`--threshold`, or the bundle's calibration)."""
    if given:
        return f"threshold: {threshold:.6g} (from --threshold)"
    target = calibration.get("target_far")
    aim = f", aiming at a false-alarm rate of {100 * target:g} %" if target else ""
    return f"threshold: {threshold:.6g} (the bundle's: {calibration.get('method')}{aim})"


def rule_line(rule: Persistence, given: bool) -> str:
    """The alarm rule used, in words."""
    where = "from --persistence" if given else "the bundle's"
    if not rule.active:
        return (f"alarm rule: a row is flagged when its error is above the threshold "
                f"(persistence 1/1, {where})")
    return (f"alarm rule: a row is flagged when {rule.k} of its device's last {rule.n} rows "
            f"have an error above the threshold (persistence {rule}, {where})")


def figure(name: str, value: float) -> tuple[str, str, str]:
    """One figure: name, value with its unit, what it means; or undefined and why."""
    if math.isnan(value):
        return name, "undefined", UNDEFINED[name]
    return name, f"{value:.3f} %" if name in PERCENT else f"{value:.4f}", MEANING[name]


def counts(q: Quality) -> list[tuple[str, str, str]]:
    """The confusion counts, each said in words."""
    return [
        ("rows", str(q.tp + q.fp + q.fn + q.tn),
         f"counted: {q.tp + q.fn} labelled anomalous, {q.fp + q.tn} normal"),
        ("tp", str(q.tp), "anomalous rows flagged"),
        ("fp", str(q.fp), "normal rows flagged"),
        ("fn", str(q.fn), "anomalous rows not flagged"),
        ("tn", str(q.tn), "normal rows not flagged"),
    ]


def evaluation_lines(
    result: Evaluation, threshold: float, threshold_given: bool, calibration: dict,
    rule: Persistence, rule_given: bool,
) -> list[str]:
    """Every line `detector evaluate` prints on stdout, in order."""
    q = result.quality
    rows = counts(q) + [figure(name, getattr(q, name))
                        for name in ("precision", "recall", "f1", "far", "mar")]
    rows += [(f"recall {kind}", f"{recall:.4f}", f"fraction of the {kind} rows flagged")
             for kind, recall in result.recall_by_kind.items()]
    width = max(len(name) for name, _, _ in rows)
    return [threshold_line(threshold, threshold_given, calibration), rule_line(rule, rule_given),
            *(f"{name:<{width}}  {value:<9}  ({meaning})" for name, value, meaning in rows)]
