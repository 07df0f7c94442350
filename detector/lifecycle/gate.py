"""The promotion gate: does a challenger replace the champion? A rule fixed in advance.

Both models are scored on the same retrain window. The challenger trained on the window's kept
rows but its newest `tail` rows; the kept rows of that tail are the *quiet* rows (readings it did
not train on, outside every incident, label and margin) and the champion's flagged rows inside
incidents are the *checked* rows. `decide`, in this order (docs/lifecycle.md):

1. `erases-incident`: the challenger flags fewer than half of the checked rows;
2. `no-quiet-rows`: there is no quiet row to compare on;
3. `flags-too-much`: the challenger flags more than `band` x its target FAR of the quiet rows;
4. `champion-stale` (promote): the champion flagged the whole window;
5. `fewer-flags` (promote): the challenger flags fewer quiet rows than the champion;
6. `closer-fit` (promote): as many, and its median score on them is lower;
7. `not-better` otherwise.

Pure: NumPy and the standard library.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from detector.lifecycle.cleaning import Cleaning
from detector.lifecycle.rows import newest_rows

BAND = 5.0  # the challenger's quiet flag rate may be at most BAND x its calibration target
KEEP_INCIDENTS = 0.5  # the share of the champion's incident flags the challenger must keep
PROMOTE = ("champion-stale", "fewer-flags", "closer-fit")
REJECT = ("erases-incident", "no-quiet-rows", "flags-too-much", "not-better")
REASONS = PROMOTE + REJECT  # every reason `decide` gives: fixed label values for metrics


@dataclass(frozen=True)
class Stats:
    """One model on the window: its flags and median score on the quiet rows, its flags on the
    checked rows."""

    quiet_rows: int
    quiet_flags: int
    quiet_median: float
    checked_flags: int

    @property
    def flag_rate(self) -> float:
        """The share of quiet rows flagged (NaN without quiet rows)."""
        return self.quiet_flags / self.quiet_rows if self.quiet_rows else math.nan


@dataclass(frozen=True)
class Decision:
    """The gate's verdict: promote or not, and why (one of REASONS)."""

    promote: bool
    reason: str


def evaluation_rows(cleaning: Cleaning, champion_flags: np.ndarray, tail: int,
                    devices: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The quiet rows (kept rows among the newest `tail`, of each device when `devices` is given)
    and the checked rows (incident rows the champion flagged), as masks over the window."""
    newest = newest_rows(len(cleaning.keep), tail, devices)
    return newest & cleaning.keep, cleaning.incident & np.asarray(champion_flags, dtype=bool)


def stats_of(score: np.ndarray, flags: np.ndarray, quiet: np.ndarray, checked: np.ndarray
             ) -> Stats:
    """A model's Stats from its scores and flags over the window."""
    flags = np.asarray(flags, dtype=bool)
    quiet_scores = np.asarray(score, dtype=np.float64)[quiet]
    finite = quiet_scores[np.isfinite(quiet_scores)]
    median = float(np.median(finite)) if len(finite) else math.nan
    return Stats(int(quiet.sum()), int(flags[quiet].sum()), median, int(flags[checked].sum()))


def decide(champion: Stats, challenger: Stats, target_far: float, stale: bool = False,
           band: float = BAND) -> Decision:
    """Promote the challenger or keep the champion, by the rule in the module's text."""
    kept = challenger.checked_flags
    if champion.checked_flags and kept < KEEP_INCIDENTS * champion.checked_flags:
        return Decision(False, "erases-incident")
    if not challenger.quiet_rows:
        return Decision(False, "no-quiet-rows")
    if challenger.flag_rate > band * target_far:
        return Decision(False, "flags-too-much")
    if stale:
        return Decision(True, "champion-stale")
    if challenger.flag_rate < champion.flag_rate:
        return Decision(True, "fewer-flags")
    closer = challenger.quiet_median < champion.quiet_median
    if challenger.flag_rate == champion.flag_rate and closer:
        return Decision(True, "closer-fit")
    return Decision(False, "not-better")
