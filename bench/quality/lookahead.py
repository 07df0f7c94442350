"""The SKAB Conv-AE notebook's alignment of flags, and the figures per folder (valve1, valve2).

The notebook (notebooks/Conv_AE.ipynb, waico/SKAB at b2c0d46) cuts window i from rows i … i + w − 1
and flags row d when the w − 1 windows i = d − w + 1 … d − 1 are all above the threshold, for
d = w − 1 … N − 2w + 1 (no other row is ever flagged); it counts every row of the file, the 400
training rows too. Our window ending at row e is its window e − w + 1, so with persistence
(w − 1)/(w − 1) our causal flag of row e is the notebook's flag of row e − (w − 2): it looks w − 2
rows (58 s for w = 60) ahead. Pure NumPy on the CLI's own flags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.common import table
from bench.quality.folders import by_folders


@dataclass(frozen=True)
class Lookahead:
    """A file's labels and notebook-aligned flags, for all rows and for the test rows."""

    truth: np.ndarray
    flagged: np.ndarray
    train_rows: int


def notebook_alignment(scored: pd.DataFrame, window: int, train_rows: int) -> Lookahead:
    """The notebook's flags from the causal ones of a whole file scored by `detector score`."""
    causal = scored["is_anomaly"].to_numpy() > 0
    n, shift = len(causal), max(window - 2, 0)
    flagged = np.zeros(n, dtype=bool)
    last = n - 2 * window + 1  # the notebook's last flaggable row
    rows = np.arange(window - 1, last + 1)
    flagged[rows] = causal[rows + shift]
    return Lookahead(scored["anomaly"].to_numpy() > 0, flagged, train_rows)


def by_folder(results: list, quality: Callable) -> str:
    """F1 / FAR / MAR per folder and summed: causal, and with the notebook's look-ahead."""
    rows = []
    for folder, mine in {**by_folders(results, lambda r: r.name), "all": results}.items():
        cells = [f"{folder} ({len(mine)} files)", figures(summed(quality, mine, "causal"))]
        if all(r.ahead is not None for r in mine):
            cells += [figures(summed(quality, mine, "ahead-test")),
                      figures(summed(quality, mine, "ahead-all"))]  # fmt: skip
        rows.append(tuple(cells))
    header = ["files", "causal, test rows"]
    if len(rows[0]) > 2:
        header += ["look-ahead, test rows", "look-ahead, every row (the notebook's count)"]
    return "F1 / FAR % / MAR % per folder:\n\n" + table(rows, tuple(header))


def summed(quality: Callable, results: list, how: str):
    """Counts summed over files for one way of flagging."""
    total = None
    for r in results:
        if how == "causal":
            q = quality(r.truth, r.flagged)
        else:
            start = r.ahead.train_rows if how == "ahead-test" else 0
            q = quality(r.ahead.truth[start:], r.ahead.flagged[start:])
        total = q if total is None else total + q
    return total


def figures(q) -> str:
    """F1 / FAR / MAR as the leaderboard prints them."""
    return f"{q.f1:.2f} / {q.far:.2f} / {q.mar:.2f}"
