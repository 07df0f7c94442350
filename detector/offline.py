"""Scoring a whole table: windows per device, one model call per chunk, results per row."""

from __future__ import annotations

import numpy as np
import pandas as pd

from detector.bundle import require_channels
from detector.scoring import Scorer
from detector.tabular import Table, channel_matrix
from detector.windows import windows_by_device


def score_table(scorer: Scorer, table: Table, source: str) -> pd.DataFrame:
    """The columns `error`, `score`, `is_anomaly`, `top_channel` for every row of the table.

    With a windowed model, the first window − 1 rows of each device have no full window: their
    error and score are left empty and they are not flagged.
    """
    require_channels(scorer.channels, list(table.frame.columns), source)
    values = channel_matrix(table.frame, scorer.channels, source)
    windows, rows = windows_by_device(values, scorer.window, table.devices)
    scores = scorer.score(windows)
    n = len(values)
    error = np.full(n, np.nan)
    score = np.full(n, np.nan)
    flagged = np.zeros(n, dtype=np.int8)
    top = np.full(n, "", dtype=object)
    error[rows] = scores.error
    score[rows] = scores.score
    flagged[rows] = scores.is_anomaly
    top[rows] = np.asarray(scorer.channels, dtype=object)[scores.top_channel]
    return pd.DataFrame({"error": error, "score": score, "is_anomaly": flagged, "top_channel": top})
