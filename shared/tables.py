"""CSV input: separator detection, time, id and label columns set aside, channels validated.

A column is set aside, with the reason, when it is named as a time, an id or a label, when it
looks like a time (named like one, `time_s` or `Timestamp (UTC)`, or rising by a steady step, per
device when there is a device column) or when it holds no number; `--columns` names channels
whatever they look like.
"""

from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from shared.wire import FLOAT32_MAX, DataError

TIME_COLUMNS = ("ts", "timestamp", "datetime", "time")
LABEL_COLUMNS = ("anomaly", "changepoint", "label", "is_anomaly")
ID_COLUMNS = ("device", "seq")
TIME_WORDS = frozenset({"ts", "time", "timestamp", "datetime", "date", "epoch"})
STEADY = 0.01  # a step within 1 % of the median step is steady
MIN_STEPS = 10  # fewer steps than this say nothing about a column
DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")


@dataclass(frozen=True)
class Table:
    """A CSV split into its channel matrix and the columns kept aside."""

    frame: pd.DataFrame
    channels: list[str]
    values: np.ndarray
    time_column: str | None
    left_out: dict[str, str] = field(default_factory=dict)  # column -> why it is no channel

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


def header_cells(path: Path, sep: str) -> list[str]:
    """The names on a CSV's first line, as written (spaces around them stripped)."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        first = next(csv.reader(f, delimiter=sep), [])
    return [cell.strip() for cell in first]


def check_header(names: list[str], source: str) -> None:
    """Refuse a first line that is not a header: numbers, empty names, a name twice."""
    if not any(names):
        raise DataError(f"{source}: the first line is empty: the CSV needs a header row")
    numbers = [name for name in names if _is_number(name)]
    if numbers:
        raise DataError(
            f"{source}: the first line holds numbers ({', '.join(numbers[:3])}), not column "
            "names: the CSV needs a header row naming its columns"
        )
    empty = [str(i + 1) for i, name in enumerate(names) if not name]
    if empty:
        raise DataError(f"{source}: column(s) {', '.join(empty[:5])} have no name in the header")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise DataError(
            f"{source}: column name(s) {', '.join(map(repr, twice[:5]))} appear more than once "
            "in the header: give every column its own name"
        )


def _is_number(text: str) -> bool:
    """True when the text parses as a number (NaN and infinity included)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a UTF-8 CSV with its separator detected and its header checked, or fail with a
    one-line DataError."""
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a CSV file")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        sep = detect_separator(path)
        names = header_cells(path, sep)
        check_header(names, source)
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, sep=sep, engine="c", low_memory=False, index_col=False)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text (a byte {exc.object[exc.start:exc.start + 1]!r} at "
            f"{exc.start}): save the CSV as UTF-8"
        ) from exc
    except pd.errors.ParserWarning as exc:
        raise DataError(f"{path}: some rows have more cells than the header has names") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise DataError(f"{path}: not a readable CSV ({str(exc).strip().splitlines()[0]})") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    if len(names) != len(frame.columns):
        raise DataError(f"{path}: the header has {len(names)} names but the rows "
                        f"{len(frame.columns)} cells")
    frame.columns = names
    return frame


def pick_channels(frame: pd.DataFrame, columns: list[str] | None, source: str) -> list[str]:
    """The channel columns: those named, or every other column holding numbers."""
    return choose_channels(frame, columns, source)[0]


def choose_channels(frame: pd.DataFrame, columns: list[str] | None, source: str
                    ) -> tuple[list[str], dict[str, str]]:
    """The channel columns (those named, or every other column holding numbers) and, for each
    other column, why it is not one."""
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"{source}: no column {', '.join(missing)} (has {', '.join(frame)})")
        twice = sorted({c for c in columns if columns.count(c) > 1})
        if twice:
            raise DataError(f"--columns names {', '.join(twice)} more than once")
        return list(columns), {c: "not in --columns" for c in frame.columns if c not in columns}
    reasons = {str(c): why for c in frame.columns if (why := aside_reason(frame, str(c)))}
    channels = [str(c) for c in frame.columns if str(c) not in reasons]
    if not channels:
        commas = [c for c, why in reasons.items() if "decimal commas" in why]
        if commas:
            raise DataError(
                f"{source}: no channel columns: {', '.join(map(repr, commas[:3]))} hold numbers "
                "with decimal commas (such as 21,5), which are read as text; save the CSV with "
                "decimal points (a ; separator is fine)")
        raise DataError(f"{source}: no channel columns left after time, id and label columns "
                        f"({'; '.join(f'{c}: {why}' for c, why in list(reasons.items())[:6])})")
    return channels, reasons


def aside_reason(frame: pd.DataFrame, column: str) -> str | None:
    """Why a column is not a channel (None when it is one)."""
    name = column.lower()
    if name in TIME_COLUMNS:
        return "time column"
    if name in LABEL_COLUMNS:
        return "labels"
    if name in ID_COLUMNS:
        return "device id" if name == "device" else "sequence number"
    if not _holds_numbers(frame[column]):
        sample = frame[column].dropna().astype(str)
        if len(sample) and sample.map(lambda v: bool(DECIMAL_COMMA.match(v))).mean() > 0.5:
            return f"not numeric: decimal commas ({sample.iloc[0]!r})"
        return "not numeric"
    if named_like_time(column):
        return "time-like: named like a time; name it in --columns to use it"
    step = steady_step(frame, column)
    if step is not None:
        return f"time-like: rises by a steady {step:g} a row; name it in --columns to use it"
    return None


def named_like_time(column: str) -> bool:
    """True for names made of a time word and units or qualifiers: `time_s`, `Timestamp (UTC)`,
    `event_ts`; not for `uptime` or `temperature`."""
    words = re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", column).lower())
    return any(word in TIME_WORDS for word in words)


def steady_step(frame: pd.DataFrame, column: str) -> float | None:
    """The step of a column that rises by the same amount every row (per device, when there is
    a device column), or None."""
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        return None
    groups = (frame.groupby(frame["device"].astype(str), sort=False).indices.values()
              if "device" in frame else [np.arange(len(values))])
    steps = np.concatenate([np.diff(values[rows]) for rows in groups])
    if len(steps) < MIN_STEPS:
        return None
    median = float(np.median(steps))
    if median <= 0 or np.abs(steps - median).max() > STEADY * median:
        return None
    return median


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
        numbers = numbers.to_numpy(dtype=np.float64)
        finite = np.isfinite(numbers)
        if not finite.all():
            row = int(np.flatnonzero(~finite)[0])
            count = int((~finite).sum())
            raise DataError(
                f"{source}: channel {name!r} has {count} empty, NaN or infinite cells "
                f"(first at row {row + 1})"
            )
        huge = np.abs(numbers) > FLOAT32_MAX
        if huge.any():
            row = int(np.flatnonzero(huge)[0])
            raise DataError(
                f"{source}: row {row + 1}, channel {name!r}: {numbers[row]:.6g} is beyond the "
                f"model's float32 range (±{FLOAT32_MAX:.4g}); serve rejects such a reading as "
                "non_finite"
            )
    return frame[channels].apply(pd.to_numeric).to_numpy(dtype=np.float64)


def load_table(path: str | Path, columns: list[str] | None = None) -> Table:
    """Read a CSV and validate its channels (all named in `columns`, or detected)."""
    frame = read_csv(path)
    source = str(path)
    if frame.empty:
        raise DataError(f"{source}: the CSV has no rows")
    channels, left_out = choose_channels(frame, columns, source)
    values = channel_matrix(frame, channels, source)
    return Table(frame, channels, values, time_column_of(frame, left_out), left_out)


def time_column_of(frame: pd.DataFrame, left_out: dict[str, str] | None = None) -> str | None:
    """The first column named as a time (`ts`, `timestamp`, `datetime`, `time`), else the first
    left out as time-like, if any."""
    named = next((c for c in frame.columns if str(c).lower() in TIME_COLUMNS), None)
    return named or next((c for c, why in (left_out or {}).items() if why.startswith("time")),
                         None)
