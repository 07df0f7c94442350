"""The lifecycle offline: score rows in order, retrain every N rows, gate, promote or keep.

`backtest` serves the rows with the champion `every` rows at a time; after each block it runs one
retrain cycle on the newest `window` rows (history included): the champion re-scores them, the
cleaning rule picks the rows, a challenger trains on the kept rows but the newest `tail`
(`trainer`, passed in), the gate compares both on the window. A promoted challenger serves the
next block, its windows and persistence warmed with the rows before it (as the daemon's warmup
does). One device's readings in order. No TensorFlow here: the trainer and the scorer's engine
bring it when they need it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from detector.core.alarm import AlarmRule
from detector.core.bundle import Bundle
from detector.core.scoring import Scorer
from detector.core.windows import windows_by_device
from detector.errors import DataError
from detector.lifecycle.cleaning import Cleaning, clean_as, margins_of, segments
from detector.lifecycle.gate import Decision, decide, evaluation_rows, stats_of

RETRAIN_EVERY = 300  # rows between retrain cycles: 5 minutes of 1 Hz readings
RETRAIN_WINDOW = 600  # rows a cycle looks at: 10 minutes; its newest sixth judges the challenger


class Trainer(Protocol):
    """Trains a challenger like the champion on rows (n, channels) cut into `segments` (windows
    never straddle two), writes it to `out` and returns it loaded; a DataError when it cannot."""

    def __call__(self, values: np.ndarray, segments: np.ndarray, out: Path) -> Bundle: ...


@dataclass(frozen=True)
class Policy:
    """How often to retrain and on how many of the newest rows."""

    every: int = RETRAIN_EVERY
    window: int = RETRAIN_WINDOW
    cleaning: str = "rule"  # or an extreme of it, to measure both sides (cleaning.VARIANTS)

    @property
    def tail(self) -> int:
        """The newest rows of the window the challenger does not train on: the gate's."""
        return max(1, self.window // 6)


@dataclass(frozen=True)
class Block:
    """One model's results for rows [start, end)."""

    error: np.ndarray
    score: np.ndarray
    flags: np.ndarray
    top: np.ndarray


@dataclass(frozen=True)
class Cycle:
    """One retrain cycle: after which row, what the cleaning kept, what the gate said."""

    row: int
    outcome: str  # promoted, rejected, skipped, failed
    reason: str
    cleaning: Cleaning | None = None
    version: str = ""


@dataclass
class Result:
    """Per scored row: error, score, flag, top channel and the version that served it; the
    cycles in order."""

    error: np.ndarray
    score: np.ndarray
    flags: np.ndarray
    top: np.ndarray
    versions: np.ndarray
    cycles: list[Cycle] = field(default_factory=list)

    def counts(self) -> Counter:
        """Cycles per (outcome, reason)."""
        return Counter((c.outcome, c.reason) for c in self.cycles)


def scored(scorer: Scorer, rule: AlarmRule, values: np.ndarray, start: int, end: int) -> Block:
    """A model's results for rows [start, end), its windows and persistence reaching back into
    the rows before `start` (as many as exist)."""
    context = max(0, start - (scorer.window - 1) - (rule.persistence.n - 1))
    windows, rows = windows_by_device(values[context:end], scorer.window)
    n = end - context
    error, score = np.full(n, np.nan), np.full(n, np.nan)
    top = np.full(n, "", dtype=object)
    have = np.zeros(n, dtype=bool)
    if len(rows):
        result = scorer.score(windows)
        error[rows], score[rows], have[rows] = result.error, result.score, True
        top[rows] = np.asarray(scorer.channels, dtype=object)[result.top_channel]
    flags = rule.flag_rows(score, have)
    cut = start - context
    return Block(error[cut:], score[cut:], flags[cut:], top[cut:])


def cycle(champion: Bundle, values: np.ndarray, labels: np.ndarray | None, end: int,
          policy: Policy, trainer: Trainer, out: Path, need: int) -> tuple[Cycle, Bundle | None]:
    """One retrain cycle on rows [end - window, end): the Cycle and the challenger if promoted."""
    start = max(0, end - policy.window)
    margin, lead = margins_of(champion.meta)
    champ = scored(Scorer(champion), AlarmRule.of(champion.meta), values, start, end)
    window_labels = None if labels is None else labels[start:end]
    cleaning = clean_as(policy.cleaning, champ.flags, champ.score, window_labels, margin, lead)
    train = cleaning.keep.copy()
    train[max(0, len(train) - policy.tail):] = False
    if train.sum() < need:
        return Cycle(end, "skipped", "too-few-clean-rows", cleaning), None
    try:
        challenger = trainer(values[start:end][train], segments(train)[train], out)
    except DataError as exc:
        return Cycle(end, "failed", f"training refused: {exc}", cleaning), None
    chall = scored(Scorer(challenger), AlarmRule.of(challenger.meta), values, start, end)
    quiet, checked = evaluation_rows(cleaning, champ.flags, policy.tail)
    target = float(challenger.meta["calibration"]["target_far"])
    decision: Decision = decide(stats_of(champ.score, champ.flags, quiet, checked),
                                stats_of(chall.score, chall.flags, quiet, checked),
                                target, cleaning.stale)
    outcome = "promoted" if decision.promote else "rejected"
    return (Cycle(end, outcome, decision.reason, cleaning, challenger.version),
            challenger if decision.promote else None)


def backtest(champion: Bundle, values: np.ndarray, first: int, policy: Policy, trainer: Trainer,
             work: Path, labels: np.ndarray | None = None, need: int = 1,
             progress: Callable[[str], None] = lambda _: None) -> Result:
    """Serve rows [first, len(values)) as the lifecycle would, starting from `champion`; rows
    before `first` are history (windows, persistence and the first retrain windows)."""
    n = len(values) - first
    result = Result(np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, bool),
                    np.full(n, "", dtype=object), np.full(n, "", dtype=object))
    at = first
    while at < len(values):
        end = min(at + policy.every, len(values))
        block = scored(Scorer(champion), AlarmRule.of(champion.meta), values, at, end)
        rows = slice(at - first, end - first)
        result.error[rows], result.score[rows] = block.error, block.score
        result.flags[rows], result.top[rows] = block.flags, block.top
        result.versions[rows] = champion.version
        at = end
        if at >= len(values):
            break
        done, promoted = cycle(champion, values, labels, at, policy, trainer,
                               work / f"challenger-{len(result.cycles)}", need)
        result.cycles.append(done)
        progress(f"row {at - first}/{n}: {done.outcome} ({done.reason})"
                 + (f", now serving {promoted.version}" if promoted else "")
                 + (f"; {done.cleaning.summary()}" if done.cleaning else ""))
        if promoted is not None:
            champion = promoted
    return result
