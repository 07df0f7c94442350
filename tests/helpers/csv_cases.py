"""Generated CSV files, good and bad, and what the offline commands must make of each.

A `CsvCase` is a header, rows of cell texts, a separator, a line ending and an encoding; it knows
whether a scorer with given channels must accept it (`refusal` returns None) or refuse it (the
reason, for the test's message). The strategies mix sound cases with every kind of bad input the
commands promise to refuse: numbers or empty names or duplicates in the header, missing channels,
empty, NaN, infinite, textual and beyond-float32 cells, ragged rows, no rows, non-UTF-8 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

CHANNELS = ["col_1", "col_2", "col_3", "col_4", "col_5"]
EXTRAS = ["ts", "device", "label", "note"]
BAD_CELLS = ["", "nan", "NaN", "inf", "-inf", "abc", "1e300", "-3.5e38", "1e39", "0x1F", "1.2.3"]
EXTREME_CELLS = ["3.4e38", "-3.4e38", "1e-300", "0", "-0.0"]
NOTES = ["ok", "é ü ß", "a b", "", "42"]
DEVICES = ["d1", "d2", "pump-7"]
LABELS = ["normal", "spike", "0", "1", "true", "anomaly"]


@dataclass(frozen=True)
class CsvCase:
    """One CSV file as cell texts, and how it is written."""

    header: list[str]
    rows: list[list[str]]
    sep: str = ","
    newline: str = "\n"
    encoding: str = "utf-8"

    def text(self) -> str:
        """The file's text."""
        lines = [self.sep.join(self.header), *(self.sep.join(row) for row in self.rows)]
        return self.newline.join(lines) + self.newline

    def data(self) -> bytes:
        """The file's bytes (encoding errors replaced: then it is not UTF-8, as intended)."""
        return self.text().encode(self.encoding, errors="replace")

    def readable(self) -> bool:
        """True when the bytes are UTF-8 (with or without a byte-order mark)."""
        try:
            self.data().decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    def refusal(self, channels: list[str], window: int = 1) -> str | None:
        """Why a scorer with these channels must refuse this CSV, or None if it must score it."""
        names = [name.strip() for name in self.header]
        if not self.readable():
            return "not UTF-8"
        if not any(names) or any(is_number(name) for name in names):
            return "no header"
        if "" in names or len(set(names)) != len(names):
            return "header names"
        if any(len(row) > len(names) for row in self.rows):
            return "ragged"
        if not self.rows:
            return "no rows"
        if missing := [c for c in channels if c not in names]:
            return f"lacks {missing}"
        for row in self.rows:
            cells = dict(zip(names, row, strict=False))
            if any(not good_cell(cells.get(c, "")) for c in channels):
                return "bad cell"
        if window > 1 and max(self.device_counts().values()) < window:
            return "no full window"
        return None

    def device_counts(self) -> dict[str, int]:
        """Rows per device (one device when there is no device column)."""
        names = [name.strip() for name in self.header]
        if "device" not in names:
            return {"": len(self.rows)}
        at = names.index("device")
        counts: dict[str, int] = {}
        for row in self.rows:
            device = row[at].strip() if at < len(row) else ""
            counts[device] = counts.get(device, 0) + 1
        return counts


def is_number(text: str) -> bool:
    """True when Python reads the text as a float."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def good_cell(text: str) -> bool:
    """True for a channel cell the commands accept: a finite number within float32's range."""
    try:
        value = float(text)
    except ValueError:
        return False
    return abs(value) <= 3.4028234663852886e38 and "_" not in text


numbers = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.floats(-1e4, 1e4, allow_nan=False).map(lambda v: f"{v:.4f}"),
    st.floats(-1e6, 1e6, allow_nan=False).map(repr),
)
channel_cells = st.one_of(numbers, numbers, numbers, numbers, st.sampled_from(EXTREME_CELLS))
maybe_bad_cells = st.one_of(channel_cells, channel_cells, channel_cells, st.sampled_from(BAD_CELLS))


def extra_cell(name: str) -> st.SearchStrategy[str]:
    """Cells of a column that is not a channel."""
    return {
        "ts": st.integers(0, 2**31).map(str),
        "device": st.sampled_from(DEVICES),
        "label": st.sampled_from(LABELS),
    }.get(name, st.sampled_from(NOTES))


@st.composite
def csv_cases(draw: st.DrawFn, channels: list[str] = CHANNELS, max_rows: int = 24) -> CsvCase:
    """A CSV with the channels (in any order), some other columns, and sometimes a flaw."""
    extras = draw(st.lists(st.sampled_from(EXTRAS), unique=True, max_size=3))
    header = draw(st.permutations([*channels, *extras]))
    count = draw(st.integers(1, max_rows) | st.just(0)) if draw(st.booleans()) else max_rows
    cells = maybe_bad_cells if draw(st.integers(0, 3)) == 0 else channel_cells
    rows = [[draw(cells if name in channels else extra_cell(name)) for name in header]
            for _ in range(count)]
    flaw = draw(st.sampled_from(["none"] * 14 + ["no header", "duplicate", "empty name",
                                                "numeric name", "missing channel", "ragged",
                                                "short row"]))
    header, rows = flawed(draw, flaw, list(header), rows)
    sep = draw(st.sampled_from([",", ";"]))
    if sep == ";":
        rows = [[cell.replace(";", ",") for cell in row] for row in rows]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    encoding = draw(st.sampled_from(["utf-8"] * 10 + ["utf-8-sig", "latin-1", "utf-16"]))
    return CsvCase(header, rows, sep, newline, encoding)


def flawed(draw: st.DrawFn, flaw: str, header: list[str], rows: list[list[str]]
           ) -> tuple[list[str], list[list[str]]]:
    """The header and rows with one flaw put in."""
    at = draw(st.integers(0, len(header) - 1))
    if flaw == "no header" and rows:
        return rows[0], rows[1:]
    if flaw == "duplicate":
        header[at] = header[(at + 1) % len(header)]
    elif flaw == "empty name":
        header[at] = ""
    elif flaw == "numeric name":
        header[at] = draw(st.sampled_from(["1", "2.5", "-3", "1e3"]))
    elif flaw == "missing channel":
        header[at] = "other"
    elif flaw == "ragged" and rows:
        rows[-1] = [*rows[-1], "1"]
    elif flaw == "short row" and rows:
        rows[-1] = rows[-1][:-1]
    return header, rows
