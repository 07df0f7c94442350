"""Scoring a whole table: windows per device, one model call per chunk, results per row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from detector.bundle import require_channels
from detector.postprocess import persist_by_device
from detector.scoring import Scorer
from detector.tabular import Table, channel_matrix, detect_separator
from detector.windows import windows_by_device


def score_table(scorer: Scorer, table: Table, source: str) -> pd.DataFrame:
    """The columns `error`, `score`, `is_anomaly`, `top_channel` for every row of the table.

    With a windowed model, the first window − 1 rows of each device have no full window: their
    error and score are left empty and they count as below the threshold. `is_anomaly` is the
    scorer's persistence rule applied to each device's rows in order.
    """
    require_channels(scorer.channels, list(table.frame.columns), source)
    values = channel_matrix(table.frame, scorer.channels, source)
    windows, rows = windows_by_device(values, scorer.window, table.devices)
    scores = scorer.score(windows)
    n = len(values)
    error = np.full(n, np.nan)
    score = np.full(n, np.nan)
    above = np.zeros(n, dtype=bool)
    top = np.full(n, "", dtype=object)
    error[rows] = scores.error
    score[rows] = scores.score
    above[rows] = scores.is_anomaly
    flagged = persist_by_device(above, scorer.persistence, table.devices).astype(np.int8)
    top[rows] = np.asarray(scorer.channels, dtype=object)[scores.top_channel]
    return pd.DataFrame({"error": error, "score": score, "is_anomaly": flagged, "top_channel": top})


def write_scored_csv(source: Path, frame: pd.DataFrame, scored: pd.DataFrame, out: Path) -> None:
    """Write the source CSV with the scored columns appended to each line.

    The fast path appends to the source's own lines (formatting numbers with orjson); a CSV whose
    lines do not map one-to-one to rows (quoted newlines, blank lines) or that already has these
    columns goes through pandas instead.
    """
    lines = [line.rstrip(b"\r") for line in source.read_bytes().split(b"\n")]
    lines = [line for line in lines if line.strip()]
    if len(lines) != len(frame) + 1 or set(scored.columns) & set(frame.columns):
        frame.assign(**{c: scored[c] for c in scored.columns}).to_csv(out, index=False)
        return
    sep = detect_separator(source).encode()
    names = {name: str(name).encode() for name in set(scored["top_channel"].to_numpy().tolist())}
    columns = [
        number_texts(scored["error"].to_numpy()),
        number_texts(scored["score"].to_numpy()),
        np.where(scored["is_anomaly"].to_numpy(), b"1", b"0").tolist(),
        [names[t] for t in scored["top_channel"].to_numpy().tolist()],
    ]
    header = sep.join([lines[0], *(c.encode() for c in scored.columns)])
    body = b"\n".join(map(sep.join, zip(lines[1:], *columns, strict=True)))
    out.write_bytes(header + b"\n" + body + b"\n")


def number_texts(values: np.ndarray) -> list[bytes]:
    """Shortest round-trip text of each float; NaN as an empty cell."""
    text = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]
    return [b"" if t == b"null" else t for t in text.split(b",")] if len(values) else []
