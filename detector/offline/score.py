"""Scoring a whole table or CSV: windows per device, one model call per chunk, results per row."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from detector.core.alarm import AlarmRule, Persistence, parse_persistence
from detector.core.bundle import Bundle, load_bundle, require_channels
from detector.core.scoring import Scorer
from detector.core.windows import windows_by_device
from detector.errors import DataError
from shared.outputs import atomic_file
from shared.tables import Table, channel_matrix, detect_separator, read_csv


def score_table(
    scorer: Scorer, rule: AlarmRule, table: Table, source: str, reconstruction: bool = False
) -> pd.DataFrame:
    """The columns `error`, `score`, `is_anomaly`, `top_channel` for every row of the table.

    With a windowed model, the first window − 1 rows of each device have no full window: their
    error and score are left empty and they count as below the threshold. `is_anomaly` is the
    alarm rule applied to each device's rows in order (the rows before count as a follow rule's
    history, `--history` ones too). With `reconstruction`,
    the model's reconstruction of each channel follows as `rec_<channel>`.
    """
    require_channels(scorer.channels, list(table.frame.columns), source)
    values = channel_matrix(table.frame, scorer.channels, source)
    windows, rows = windows_by_device(values, scorer.window, table.devices)
    scores = scorer.score(windows)
    n = len(values)
    error = np.full(n, np.nan)
    score = np.full(n, np.nan)
    scored = np.zeros(n, dtype=bool)
    top = np.full(n, "", dtype=object)
    error[rows] = scores.error
    score[rows] = scores.score
    scored[rows] = True
    flagged = rule.flag_rows(score, scored, table.devices, error).astype(np.int8)
    top[rows] = np.asarray(scorer.channels, dtype=object)[scores.top_channel]
    columns = {"error": error, "score": score, "is_anomaly": flagged, "top_channel": top}
    if reconstruction:
        rebuilt = np.full((n, len(scorer.channels)), np.nan)
        rebuilt[rows] = scores.reconstruction
        columns |= {f"rec_{c}": rebuilt[:, i] for i, c in enumerate(scorer.channels)}
    return pd.DataFrame(columns)


def score_csv(
    bundle_dir: str,
    data: str,
    history: str | None = None,
    threshold: float | None = None,
    persistence: str | Persistence | None = None,
    reconstruction: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame, Bundle]:
    """Score every row of a CSV with a bundle: the CSV, its scored columns and the bundle.

    `history` is a CSV of the readings just before (the same devices): they give the first rows
    their windows and their place in the persistence rule, and are not part of the result.
    `threshold` and `persistence` (`K/N`) replace the bundle's own (a threshold that follows the
    usual error moves alike: detector.core.follow.follow_of). A CSV with no rows, or none
    with a full window, is refused (a result of empty scores would look like "all normal").
    """
    if threshold is not None and not (math.isfinite(threshold) and threshold > 0):
        raise DataError(f"--threshold must be a positive number, got {threshold}")
    rule = parse_persistence(persistence) if isinstance(persistence, str) else persistence
    bundle = load_bundle(bundle_dir)
    frame = read_csv(data)
    if frame.empty:
        raise DataError(f"{data}: the CSV has no rows to score")
    scorer = Scorer(bundle, threshold=threshold)
    both, skip = frame, 0
    if history is not None:
        before = read_csv(history)
        both, skip = joined(before, frame, bundle.channels, history, data), len(before)
    table = Table(both, bundle.channels, np.empty(0), None)
    alarm = AlarmRule.of(bundle.meta, rule, threshold)
    scored = score_table(scorer, alarm, table, str(data), reconstruction)
    scored = scored.iloc[skip:].reset_index(drop=True)
    if scored["error"].isna().all():
        raise DataError(
            f"{data}: none of its {len(frame)} rows has a full window of {bundle.window} readings "
            f"of its device, so none can be scored: pass --history FILE.csv with the readings "
            "just before them"
        )
    return frame, scored, bundle


def joined(
    before: pd.DataFrame, frame: pd.DataFrame, channels: list[str], history: str, data: str
) -> pd.DataFrame:
    """The channel (and device) columns of the history rows followed by those of the data rows."""
    require_channels(channels, list(before.columns), history)
    require_channels(channels, list(frame.columns), data)
    channel_matrix(before, channels, history)  # bad cells named by their own file and row
    channel_matrix(frame, channels, data)
    if ("device" in before.columns) != ("device" in frame.columns):
        raise DataError(f"{history} and {data} must both have a device column, or neither")
    columns = [*channels, *(["device"] if "device" in frame.columns else [])]
    return pd.concat([before[columns], frame[columns]], ignore_index=True)


def write_scored_csv(source: Path, frame: pd.DataFrame, scored: pd.DataFrame, out: Path) -> None:
    """Write the source CSV with the scored columns appended to each line.

    The fast path appends to the source's own lines (formatting numbers with orjson); a CSV whose
    lines do not map one-to-one to rows of as many cells as the header (quotes, blank lines,
    short rows) or that already has these columns goes through pandas instead.
    """
    lines = [line.rstrip(b"\r") for line in source.read_bytes().split(b"\n")]
    lines = [line for line in lines if line.strip()]
    sep = detect_separator(source).encode()
    cells = {line.count(sep) for line in lines}  # every line as many cells as the header
    if (len(lines) != len(frame) + 1 or len(cells) != 1 or any(b'"' in line for line in lines)
            or set(scored.columns) & set(frame.columns)):
        with atomic_file(out, "w", newline="", encoding="utf-8") as f:
            frame.assign(**{c: scored[c] for c in scored.columns}).to_csv(f, index=False)
        return
    columns = [cell_texts(scored[name].to_numpy()) for name in scored.columns]
    header = sep.join([lines[0], *(c.encode() for c in scored.columns)])
    body = b"\n".join(map(sep.join, zip(lines[1:], *columns, strict=True)))
    with atomic_file(out, "wb") as f:
        f.write(header + b"\n" + body + b"\n")


def cell_texts(values: np.ndarray) -> list[bytes]:
    """The CSV cells of one scored column: floats, 0/1 flags or names."""
    if values.dtype.kind == "f":
        return number_texts(values)
    if values.dtype.kind in "iub":
        return np.where(values != 0, b"1", b"0").tolist()
    names = {name: str(name).encode() for name in set(values.tolist())}
    return [names[v] for v in values.tolist()]


def number_texts(values: np.ndarray) -> list[bytes]:
    """Shortest round-trip text of each float; NaN as an empty cell."""
    text = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]
    return [b"" if t == b"null" else t for t in text.split(b",")] if len(values) else []
