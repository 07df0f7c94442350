"""CSV input: separator detection, time, id and label columns set aside, channels validated."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from producer.wire import DataError

TIME_COLUMNS = ("ts", "timestamp", "datetime", "time")
LABEL_COLUMNS = ("anomaly", "changepoint", "label", "is_anomaly")
ID_COLUMNS = ("device", "seq")


@dataclass(frozen=True)
class Table:
    """A CSV split into its channel matrix and the columns kept aside."""

    frame: pd.DataFrame
    channels: list[str]
    values: np.ndarray
    time_column: str | None

    @property
    def devices(self) -> np.ndarray | None:
        """The device of each row, when the CSV has a device column."""
        return self.frame["device"].astype(str).to_numpy() if "device" in self.frame else None

    def label_column(self) -> str | None:
        """The first label column present, if any."""
        return next((c for c in LABEL_COLUMNS if c in self.frame.columns), None)


def detect_separator(path: Path) -> str:
    """`;` when the header line has more semicolons than commas, else `,`."""
    with path.open(encoding="utf-8", errors="replace") as f:
        header = f.readline()
    return ";" if header.count(";") > header.count(",") else ","


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV with its separator detected, or fail with a one-line DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path, sep=detect_separator(path), engine="c", low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def is_aside(column: str) -> bool:
    """Time, id and label columns are never channels."""
    return column.lower() in (*TIME_COLUMNS, *LABEL_COLUMNS, *ID_COLUMNS)


def pick_channels(frame: pd.DataFrame, columns: list[str] | None, source: str) -> list[str]:
    """The channel columns: those named, or every other column holding numbers."""
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"{source}: no column {', '.join(missing)} (has {', '.join(frame)})")
        return list(columns)
    channels = [c for c in frame.columns if not is_aside(c) and _holds_numbers(frame[c])]
    if not channels:
        raise DataError(f"{source}: no channel columns left after time, id and label columns")
    return channels


def _holds_numbers(column: pd.Series) -> bool:
    """True when the column is numeric or at least one of its cells parses as a number."""
    if pd.api.types.is_numeric_dtype(column):
        return True
    return bool(pd.to_numeric(column, errors="coerce").notna().any())


def channel_matrix(frame: pd.DataFrame, channels: list[str], source: str) -> np.ndarray:
    """The channels as a float64 matrix, or a DataError naming the first bad column and row."""
    for name in channels:
        column = frame[name]
        numbers = pd.to_numeric(column, errors="coerce")
        bad = numbers.isna() & column.notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"{source}: channel {name!r} is not numeric (row {row + 1}: {column.iloc[row]!r})"
            )
        finite = np.isfinite(numbers.to_numpy(dtype=np.float64))
        if not finite.all():
            row = int(np.flatnonzero(~finite)[0])
            count = int((~finite).sum())
            raise DataError(
                f"{source}: channel {name!r} has {count} empty, NaN or infinite cells "
                f"(first at row {row + 1})"
            )
    return frame[channels].apply(pd.to_numeric).to_numpy(dtype=np.float64)


def load_table(path: str | Path, columns: list[str] | None = None) -> Table:
    """Read a CSV and validate its channels (all named in `columns`, or detected)."""
    frame = read_csv(path)
    source = str(path)
    if frame.empty:
        raise DataError(f"{source}: the CSV has no rows")
    channels = pick_channels(frame, columns, source)
    values = channel_matrix(frame, channels, source)
    time_column = next((c for c in frame.columns if c.lower() in TIME_COLUMNS), None)
    return Table(frame, channels, values, time_column)
