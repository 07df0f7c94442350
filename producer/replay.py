"""Rows of any CSV as readings: channels by name, device and label columns when present, and
the reading's time from a column of the CSV when asked (else the time of sending)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from shared.tables import channel_matrix, pick_channels, read_csv
from shared.wire import DataError


def label_text(value: object) -> str:
    """A label cell as a header value: kind names kept, 0/1 as normal/anomaly."""
    text = str(value).strip().lower()
    if text in ("0", "0.0", "false", "", "nan", "normal"):
        return "normal"
    if text in ("1", "1.0", "true"):
        return "anomaly"
    return text


def row_times(frame: pd.DataFrame, column: str, source: str) -> np.ndarray:
    """Unix seconds of each row from `column`: numbers as Unix seconds, else date-times (ISO 8601
    or `YYYY-MM-DD HH:MM:SS`; without a zone, UTC); a DataError names the first bad cell."""
    if column not in frame.columns:
        raise DataError(f"{source}: no time column {column!r} (has {', '.join(frame.columns)})")
    cells = frame[column]
    numbers = pd.to_numeric(cells, errors="coerce")
    if numbers.notna().all():
        seconds = numbers.to_numpy(dtype=np.float64)
    else:
        stamps = pd.to_datetime(cells.astype(str), errors="coerce", utc=True, format="mixed")
        bad = stamps.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"{source}: time column {column!r}, row {row + 1}: "
                            f"{cells.iloc[row]!r} is neither a date-time nor Unix seconds")
        seconds = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
    beyond = ~np.isfinite(seconds) | (seconds < 0) | (seconds > 1e11)
    if beyond.any():
        row = int(np.flatnonzero(beyond)[0])
        raise DataError(f"{source}: time column {column!r}, row {row + 1}: {cells.iloc[row]!r} "
                        "is not a time between 1970 and the year 5000 (Unix seconds)")
    return seconds


def csv_readings(path: str, default_device: str, time_column: str | None = None
                 ) -> Iterator[tuple]:
    """(device, seq, values by channel, label, ts or None) of each row of a CSV, all checked
    before the first is yielded."""
    frame = read_csv(path)
    channels = pick_channels(frame, None, path)
    values = channel_matrix(frame, channels, path)
    times = row_times(frame, time_column, path) if time_column else None
    return rows_of(frame, channels, values, default_device, times)


def rows_of(
    frame: pd.DataFrame, channels: list[str], values: np.ndarray, default_device: str,
    times: np.ndarray | None = None,
) -> Iterator[tuple]:
    """(device, seq, values by channel, label, ts or None) of each row."""
    devices = frame["device"].astype(str).tolist() if "device" in frame else None
    label_col = next((c for c in ("label", "anomaly", "is_anomaly") if c in frame), None)
    labels = [label_text(v) for v in frame[label_col]] if label_col else None
    stamps = times.tolist() if times is not None else None
    for i, row in enumerate(np.asarray(values).tolist()):
        device = devices[i] if devices else default_device
        label = labels[i] if labels else None
        ts = stamps[i] if stamps else None
        yield device, i, dict(zip(channels, row, strict=True)), label, ts
