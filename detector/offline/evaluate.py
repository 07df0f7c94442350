"""Detection quality against labels: confusion counts, precision, recall, F1, FAR, MAR.

Labels follow one vocabulary (`shared.wire`): 0/1, 0.0/1.0, false/true, normal/anomaly and the
simulator's anomaly kinds, compared without case; an empty cell or any other value is refused.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from detector.errors import DataError
from shared.tables import LABEL_COLUMNS, time_column_of
from shared.wire import ANOMALY_KINDS, ANOMALY_WORDS, NORMAL_WORDS, label_truth


@dataclass(frozen=True)
class Quality:
    """Counts and rates of a 0/1 prediction against 0/1 truth: precision, recall and F1 as
    fractions, FAR and MAR in percent (SKAB's units); NaN where a rate has nothing to count
    (precision with nothing flagged, recall with no anomalous row)."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else math.nan

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else math.nan

    @property
    def f1(self) -> float:
        """SKAB's F1: TP / (TP + (FP + FN) / 2)."""
        denominator = self.tp + (self.fp + self.fn) / 2
        return self.tp / denominator if denominator else math.nan

    @property
    def far(self) -> float:
        """False-alarm rate, % of normal rows flagged."""
        return 100.0 * self.fp / (self.fp + self.tn) if self.fp + self.tn else math.nan

    @property
    def mar(self) -> float:
        """Missed-alarm rate, % of anomalous rows not flagged."""
        return 100.0 * self.fn / (self.fn + self.tp) if self.fn + self.tp else math.nan

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


def truth_of(labels: np.ndarray, source: str = "the label column") -> np.ndarray:
    """Anomalous or not from a label column in the documented vocabulary (shared.wire):
    0/1, 0.0/1.0, false/true, normal/anomaly or an anomaly kind; anything else, or an empty
    cell, is a DataError naming it."""
    labels = np.asarray(labels, dtype=object)
    empty = np.flatnonzero(pd.isna(labels) | (np.asarray([str(v).strip() for v in labels]) == ""))
    if len(empty):
        rows = ", ".join(str(i + 1) for i in empty[:5]) + (" …" if len(empty) > 5 else "")
        raise DataError(f"{source} has {len(empty)} empty cell(s) (row(s) {rows}): label every row")
    words = {value: label_truth(label_word(value)) for value in set(labels.tolist())}
    unknown = sorted(repr(label_word(v)) for v, truth in words.items() if truth is None)
    if unknown:
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise DataError(
            f"{source} holds label(s) outside the vocabulary: {', '.join(unknown[:5])}{more} "
            f"(normal: {', '.join(NORMAL_WORDS)}; anomalous: {', '.join(ANOMALY_WORDS)})"
        )
    return np.fromiter((words[v] for v in labels.tolist()), dtype=bool, count=len(labels))


def label_word(value: object) -> str:
    """A label cell as text: 1.0 as "1.0", True as "true", text as it is."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return f"{float(value):.1f}"
    return str(value)


def recall_by_kind(labels: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    """Recall for each anomaly kind named in a label column (none for 0/1 or true/false)."""
    words = np.asarray([label_word(v).strip().lower() for v in np.asarray(labels, dtype=object)])
    kinds = sorted(set(words.tolist()) & set(ANOMALY_KINDS))
    return {kind: float(np.mean(flagged[words == kind])) for kind in kinds}


@dataclass(frozen=True)
class Evaluation:
    """Figures of a scored, labelled CSV, over the rows that have a score."""

    quality: Quality
    recall_by_kind: dict[str, float]
    unscored: int  # rows without a full window: not counted
    error: np.ndarray  # of the counted rows
    truth: np.ndarray
    flagged: np.ndarray
    devices: np.ndarray | None = None  # of the counted rows, when the CSV has a device column
    times: np.ndarray | None = None  # of the counted rows, when the CSV has a time column
    time_column: str | None = None


def evaluation(
    frame: pd.DataFrame, scored: pd.DataFrame, label_column: str | None, source: str
) -> Evaluation:
    """Compare the flags of the scored rows with the label column (given, or detected)."""
    column = label_column or next((c for c in LABEL_COLUMNS if c in frame.columns), None)
    if column is None or column not in frame.columns:
        looked = label_column or ", ".join(LABEL_COLUMNS)
        raise DataError(f"{source}: no label column (looked for {looked})")
    truth = truth_of(frame[column].to_numpy(dtype=object), f"{source}: label column {column!r}")
    error = scored["error"].to_numpy(dtype=np.float64)
    counted = ~np.isnan(error)
    flagged = scored["is_anomaly"].to_numpy().astype(bool)[counted]
    labels = frame[column].to_numpy(dtype=object)[counted]
    time_column = time_column_of(frame)
    return Evaluation(
        quality(truth[counted], flagged),
        recall_by_kind(labels, flagged),
        int((~counted).sum()),
        error[counted],
        truth[counted],
        flagged,
        frame["device"].astype(str).to_numpy()[counted] if "device" in frame else None,
        frame[time_column].to_numpy()[counted] if time_column else None,
        time_column,
    )
