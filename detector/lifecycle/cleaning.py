"""The cleaning rule: which rows of a retrain window a challenger may train on (docs/lifecycle.md).

Given the window's rows in order, the serving model's (the champion's) flags and scores for them
and, when known, their labels, `clean` leaves out:

- labelled-anomalous rows, with `margin` rows before and after each labelled stretch;
- the champion's incidents, with `margin` rows before and after each.

An alarm is a run of flagged rows, runs fewer than `margin` rows apart joined. It is:

- `stale` when it spans the whole window (the champion has flagged it for longer than the
  window: a new normal, not an incident): its rows are kept;
- `drift` when its onset is gradual: the champion's median score over its first `margin` rows
  is less than `rise` times its median score over the `margin` rows before the rise began
  (`persistence_n` rows before the first flag): its rows are kept;
- `incident` otherwise (a sharp rise, or an onset the window does not show): left out.

Each kept stretch of rows is its own segment (`segments`): windows are cut within a segment,
never across a hole. Pure: NumPy and the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.errors import DataError

RISE = 2.0  # an incident's error at least doubles from the readings before it to its first ones
KINDS = ("incident", "drift", "stale")


@dataclass(frozen=True)
class Alarm:
    """A champion alarm in the window: rows [start, end), its kind, whether it ended inside."""

    start: int
    end: int
    kind: str
    ended: bool


@dataclass(frozen=True)
class Cleaning:
    """What a challenger trains on: `keep` per row; `incident` marks the rows of incidents and
    labelled stretches (what the gate checks the challenger still flags); `left_out` counts the
    rows left out per reason (labelled, incident, margin); `alarms` the alarms found."""

    keep: np.ndarray
    incident: np.ndarray
    alarms: tuple[Alarm, ...]
    left_out: dict[str, int]

    @property
    def kept(self) -> int:
        return int(self.keep.sum())

    @property
    def stale(self) -> bool:
        """True when the champion flagged the whole window (it is stale, not witnessing)."""
        return any(a.kind == "stale" for a in self.alarms)

    def segments(self, devices: np.ndarray | None = None) -> np.ndarray:
        """`segments` of the kept rows."""
        return segments(self.keep, devices)

    def summary(self) -> str:
        """One line: rows kept, rows left out and why, alarms by kind."""
        total = len(self.keep)
        why = ", ".join(f"{count} {reason}" for reason, count in self.left_out.items() if count)
        kinds = ", ".join(f"{sum(a.kind == k for a in self.alarms)} {k}" for k in KINDS
                          if any(a.kind == k for a in self.alarms))
        return (f"kept {self.kept} of {total} rows" + (f"; left out {why}" if why else "")
                + (f"; alarms: {kinds}" if kinds else ""))


def segments(keep: np.ndarray, devices: np.ndarray | None = None) -> np.ndarray:
    """A segment id per row (meaningful for kept rows): a new id after every hole and at every
    change of device, so that training windows never straddle either."""
    keep = np.asarray(keep, dtype=bool)
    change = np.zeros(len(keep), dtype=bool)
    if len(keep):
        change[1:] = ~keep[:-1] & keep[1:]
        if devices is not None:
            devices = np.asarray(devices)
            change[1:] |= devices[1:] != devices[:-1]
    return np.cumsum(change)


def runs(mask: np.ndarray, join: int = 1) -> list[tuple[int, int]]:
    """The [start, end) runs of True, runs fewer than `join` rows apart joined into one."""
    mask = np.asarray(mask, dtype=bool)
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    joined: list[tuple[int, int]] = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        if joined and start - joined[-1][1] < join:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined


def onset_kind(score: np.ndarray, start: int, end: int, margin: int, lead: int, rise: float
               ) -> str:
    """`drift` when the alarm's first scores are under `rise` times those before its rise,
    else `incident` (also when the window does not show `margin` scored rows before it)."""
    before = score[max(0, start - lead - margin):max(0, start - lead)]
    before = before[np.isfinite(before)]
    first = score[start:min(end, start + margin)]
    first = first[np.isfinite(first)]
    if len(before) < margin or not len(first):
        return "incident"
    return "drift" if np.median(first) < rise * np.median(before) else "incident"


def alarms_of(flags: np.ndarray, score: np.ndarray, margin: int, lead: int = 0,
              rise: float = RISE) -> list[Alarm]:
    """The champion's alarms in one device's window, each classified (see the module's text)."""
    n = len(flags)
    found = []
    for start, end in runs(flags, join=margin):
        if start < margin and end > n - margin:
            kind = "stale"
        else:
            kind = onset_kind(np.asarray(score, dtype=np.float64), start, end, margin, lead, rise)
        found.append(Alarm(start, end, kind, ended=end < n))
    return found


def widened(mask: np.ndarray, margin: int) -> np.ndarray:
    """The mask with `margin` rows added before and after each of its runs."""
    out = np.zeros(len(mask), dtype=bool)
    for start, end in runs(mask):
        out[max(0, start - margin):end + margin] = True
    return out


def clean_device(flags: np.ndarray, score: np.ndarray, labels: np.ndarray | None, margin: int,
                 lead: int, rise: float) -> tuple[np.ndarray, np.ndarray, list[Alarm], dict]:
    """The rule on one device's rows in order: keep, incident rows, alarms, counts."""
    n = len(flags)
    labelled = np.zeros(n, dtype=bool) if labels is None else np.asarray(labels, dtype=bool)
    alarms = alarms_of(np.asarray(flags, dtype=bool), score, margin, lead, rise)
    incident = labelled.copy()
    for alarm in alarms:
        if alarm.kind == "incident":
            incident[alarm.start:alarm.end] = True
    out = widened(incident, margin)
    flagged_incident = incident & ~labelled
    counts = {"labelled": int(labelled.sum()), "incident": int(flagged_incident.sum()),
              "margin": int((out & ~incident).sum())}
    return ~out, incident, alarms, counts


def clean(flags: np.ndarray, score: np.ndarray, labels: np.ndarray | None = None,
          devices: np.ndarray | None = None, margin: int = 30, lead: int = 0,
          rise: float = RISE) -> Cleaning:
    """The cleaning rule over a window's rows (in arrival order; per device when `devices` is
    given). `margin`: rows around each incident (the bundle's window + its persistence n);
    `lead`: rows between a rise and its first flag (the persistence n)."""
    flags = np.asarray(flags, dtype=bool)
    score = np.asarray(score, dtype=np.float64)
    if len(score) != len(flags) or (labels is not None and len(labels) != len(flags)):
        raise ValueError("flags, scores and labels must have one entry per row")
    keep, incident = np.ones(len(flags), bool), np.zeros(len(flags), bool)
    alarms: list[Alarm] = []
    counts = {"labelled": 0, "incident": 0, "margin": 0}
    groups = [np.arange(len(flags))]
    if devices is not None:
        devices = np.asarray(devices)
        groups = [np.flatnonzero(devices == d) for d in dict.fromkeys(devices.tolist())]
    for rows in groups:
        kept, inc, found, count = clean_device(
            flags[rows], score[rows], None if labels is None else np.asarray(labels)[rows],
            margin, lead, rise)
        keep[rows], incident[rows] = kept, inc
        alarms += [Alarm(int(rows[a.start]), int(rows[a.end - 1]) + 1, a.kind, a.ended)
                   for a in found]
        counts = {k: counts[k] + count[k] for k in counts}
    return Cleaning(keep, incident, tuple(alarms), counts)


VARIANTS = ("rule", "keep-all", "drop-flagged")  # the rule, and its two extremes (research)


def clean_as(how: str, flags: np.ndarray, score: np.ndarray, labels: np.ndarray | None = None,
             margin: int = 30, lead: int = 0, devices: np.ndarray | None = None) -> Cleaning:
    """The rule (`rule`), or one of the extremes it lies between, to measure both sides of it:
    `keep-all` keeps every row (labels included, no incident known); `drop-flagged` leaves out
    every flagged or labelled row with the margin (every alarm an incident, stale ones too).
    With `devices` (one id per row) each device's rows are cleaned apart."""
    flags = np.asarray(flags, dtype=bool)
    if how == "rule":
        return clean(flags, score, labels, devices, margin=margin, lead=lead)
    none = {"labelled": 0, "incident": 0, "margin": 0}
    if how == "keep-all":
        return Cleaning(np.ones(len(flags), bool), np.zeros(len(flags), bool), (), none)
    labelled = np.zeros(len(flags), bool) if labels is None else np.asarray(labels, dtype=bool)
    incident = flags | labelled
    groups = [np.arange(len(flags))] if devices is None else [
        np.flatnonzero(np.asarray(devices) == d) for d in dict.fromkeys(list(devices))]
    out = np.zeros(len(flags), bool)
    alarms: list[Alarm] = []
    for rows in groups:
        out[rows] = widened(incident[rows], margin)
        alarms += [Alarm(int(rows[a]), int(rows[b - 1]) + 1, "incident", b < len(rows))
                   for a, b in runs(flags[rows], margin)]
    counts = {"labelled": int(labelled.sum()), "incident": int((flags & ~labelled).sum()),
              "margin": int((out & ~incident).sum())}
    return Cleaning(~out, incident, tuple(alarms), counts)


def margins_of(meta: dict) -> tuple[int, int]:
    """A bundle's `margin` (its window + persistence n) and `lead` (persistence n)."""
    n = int((meta.get("persistence") or {}).get("n", 1))
    return int(meta["window"]) + n, n


def require_rows(cleaning: Cleaning, need: int, source: str = "the retrain window") -> None:
    """Refuse (a DataError: one line, exit 2) when fewer than `need` rows remain to train on."""
    if cleaning.kept < need:
        raise DataError(f"{source}: too few clean rows to train a challenger: {cleaning.summary()}"
                        f"; need at least {need}")
