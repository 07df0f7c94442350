"""Rows of any CSV as readings: channels by name, device and label columns when present."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from shared.tables import channel_matrix, pick_channels, read_csv


def label_text(value: object) -> str:
    """A label cell as a header value: kind names kept, 0/1 as normal/anomaly."""
    text = str(value).strip().lower()
    if text in ("0", "0.0", "false", "", "nan", "normal"):
        return "normal"
    if text in ("1", "1.0", "true"):
        return "anomaly"
    return text


def csv_readings(path: str, default_device: str) -> Iterator[tuple]:
    """(device, seq, values by channel, label) of each row of a CSV, checked before the first."""
    frame = read_csv(path)
    channels = pick_channels(frame, None, path)
    values = channel_matrix(frame, channels, path)
    return rows_of(frame, channels, values, default_device)


def rows_of(
    frame: pd.DataFrame, channels: list[str], values: np.ndarray, default_device: str
) -> Iterator[tuple]:
    """(device, seq, values by channel, label) of each row."""
    devices = frame["device"].astype(str).tolist() if "device" in frame else None
    label_col = next((c for c in ("label", "anomaly", "is_anomaly") if c in frame), None)
    labels = [label_text(v) for v in frame[label_col]] if label_col else None
    for i, row in enumerate(np.asarray(values).tolist()):
        device = devices[i] if devices else default_device
        label = labels[i] if labels else None
        yield device, i, dict(zip(channels, row, strict=True)), label
