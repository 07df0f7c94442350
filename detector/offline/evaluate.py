"""Detection quality against labels: confusion counts, precision, recall, F1, FAR, MAR (pure)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

NORMAL_LABELS = ("normal", "0", "0.0", "false", "")


@dataclass(frozen=True)
class Quality:
    """Counts and rates of a 0/1 prediction against 0/1 truth (FAR and MAR in percent)."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """SKAB's F1: TP / (TP + (FP + FN) / 2)."""
        denominator = self.tp + (self.fp + self.fn) / 2
        return self.tp / denominator if denominator else 0.0

    @property
    def far(self) -> float:
        """False-alarm rate, % of normal rows flagged."""
        return 100.0 * self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    @property
    def mar(self) -> float:
        """Missed-alarm rate, % of anomalous rows not flagged."""
        return 100.0 * self.fn / (self.fn + self.tp) if self.fn + self.tp else 0.0

    def __add__(self, other: Quality) -> Quality:
        return Quality(
            self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn
        )

    def summary(self) -> dict[str, float]:
        """Counts and rates as one dict."""
        rates = {k: getattr(self, k) for k in ("precision", "recall", "f1", "far", "mar")}
        return {**asdict(self), **rates}


def quality(truth: np.ndarray, flagged: np.ndarray) -> Quality:
    """Confusion counts of boolean predictions against boolean truth."""
    truth = np.asarray(truth, dtype=bool)
    flagged = np.asarray(flagged, dtype=bool)
    return Quality(
        tp=int(np.sum(truth & flagged)),
        fp=int(np.sum(~truth & flagged)),
        fn=int(np.sum(truth & ~flagged)),
        tn=int(np.sum(~truth & ~flagged)),
    )


def truth_of(labels: np.ndarray) -> np.ndarray:
    """Anomalous or not from a label column: numbers > 0, or any kind name but `normal`."""
    try:
        return np.asarray(labels, dtype=np.float64) > 0
    except (TypeError, ValueError):
        text = np.char.lower(np.asarray(labels, dtype=str))
        return ~np.isin(text, NORMAL_LABELS)


def recall_by_kind(labels: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    """Recall for each anomaly kind named in a text label column (empty for 0/1 labels)."""
    labels = np.asarray(labels, dtype=str)
    kinds = sorted(set(labels.tolist()) - set(NORMAL_LABELS))
    if not kinds or all(_is_number(k) for k in kinds):
        return {}
    return {kind: float(np.mean(flagged[labels == kind])) for kind in kinds}


def _is_number(text: str) -> bool:
    """True when the text parses as a float."""
    try:
        float(text)
    except ValueError:
        return False
    return True
