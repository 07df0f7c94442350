"""The rows `detector train` learns from a CSV: in time order when it has a time column, without
the rows its label column marks as anomalous (the lifecycle's cleaning rule, `margin` 0), and
with windows that never straddle the holes those rows leave; plus what to tell the user.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from detector.errors import DataError
from detector.lifecycle.cleaning import clean
from detector.offline.evaluate import truth_of
from shared.tables import Table


@dataclass(frozen=True)
class TrainingRows:
    """The matrix to train on, its channels, a window key per row, and notes for the user."""

    values: np.ndarray
    channels: list[str]
    devices: np.ndarray | None  # windows never straddle a change of this key
    notes: tuple[str, ...]


def channels_note(table: Table) -> str:
    """Which columns are channels, and why each other one is not."""
    aside = "; ".join(f"{column} ({why})" for column, why in table.left_out.items())
    return (f"channels ({len(table.channels)}): {', '.join(table.channels)}"
            + (f"; left out: {aside}" if aside else ""))


def time_order(frame: pd.DataFrame, column: str | None) -> np.ndarray | None:
    """The stable order of the rows by their time column when they are not in it already; None
    when they are, or when there is no time column that parses."""
    if column is None:
        return None
    numbers = pd.to_numeric(frame[column], errors="coerce")
    if numbers.isna().any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            numbers = pd.to_datetime(frame[column], errors="coerce", utc=True)
        if numbers.isna().any():
            return None
    keys = numbers.to_numpy()
    if (keys[1:] >= keys[:-1]).all():
        return None
    return np.argsort(keys, kind="stable")


def labelled_rows(table: Table, source: str) -> np.ndarray | None:
    """Which rows the label column marks as anomalous (None without a label column)."""
    column = table.label_column()
    if column is None:
        return None
    return truth_of(table.frame[column].to_numpy(dtype=object),
                    f"{source}: label column {column!r}")


def window_keys(keep: np.ndarray, devices: np.ndarray | None) -> np.ndarray:
    """A key per row: its device and the stretch of that device's kept rows it belongs to (a new
    stretch after each row left out), so that no window spans a hole."""
    groups = ([np.arange(len(keep))] if devices is None else
              pd.Series(np.arange(len(keep))).groupby(np.asarray(devices), sort=False)
              .indices.values())
    stretch = np.zeros(len(keep), dtype=np.int64)
    for rows in groups:
        kept = keep[rows]
        stretch[rows] = np.cumsum(np.concatenate([[False], ~kept[:-1] & kept[1:]]))
    names = np.full(len(keep), "", dtype=object) if devices is None else devices.astype(object)
    return np.asarray([f"{name}#{k}" for name, k in zip(names, stretch, strict=True)])


def training_rows(table: Table, source: str) -> TrainingRows:
    """The table's rows as `detector train` learns from them (see the module's text)."""
    frame, values, devices = table.frame, table.values, table.devices
    notes = [channels_note(table)]
    order = time_order(frame, table.time_column)
    if order is not None:
        frame, values = frame.iloc[order].reset_index(drop=True), values[order]
        devices = None if devices is None else devices[order]
        notes.append(f"rows sorted by {table.time_column}: the file was not in time order (the "
                     "newest rows calibrate the threshold)")
    table = Table(frame, table.channels, values, table.time_column, table.left_out)
    anomalous = labelled_rows(table, source)
    if anomalous is None or not anomalous.any():
        return TrainingRows(values, table.channels, devices, tuple(notes))
    if anomalous.all():
        raise DataError(f"{source}: every row is labelled anomalous ({table.label_column()}): "
                        "training needs normal rows")
    cleaning = clean(np.zeros(len(values), bool), np.zeros(len(values)), anomalous, devices,
                     margin=0)
    keys = window_keys(cleaning.keep, devices)
    notes.append(f"left out {int(anomalous.sum())} of {len(values)} rows labelled anomalous in "
                 f"column {table.label_column()!r}; training on the {cleaning.kept} others")
    return TrainingRows(values[cleaning.keep], table.channels, keys[cleaning.keep], tuple(notes))
