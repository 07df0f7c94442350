"""The lifecycle offline: score rows in order, retrain every N rows, gate, promote or keep.

`backtest` serves the rows with the champion `every` rows at a time; after each block it runs one
retrain cycle on the newest `window` rows (history included): the champion re-scores them, the
cleaning rule picks the rows, a challenger trains on the kept rows but the newest `tail`
(`trainer`, passed in), the gate compares both on the window. A promoted challenger serves the
next block, its windows and persistence warmed with the rows before it (as the daemon's warmup
does). With a memory (`Policy.memory` rows per device, detector.lifecycle.memory), the kept
rows leaving the window are remembered and every challenger trains on them too. One device's
readings in order, or many devices' interleaved (each its own sequence: no window spans two
devices, detector.lifecycle.rows). No TensorFlow here: the trainer and the scorer's engine
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
from detector.lifecycle.memory import RETRAIN_MEMORY, Memory, leaving
from detector.lifecycle.rows import grouped, newest_rows, rows_of

RETRAIN_EVERY = 300  # rows between retrain cycles: 5 minutes of 1 Hz readings
RETRAIN_WINDOW = 600  # rows a cycle looks at: 10 minutes, past a fault; its newest sixth judges


class Trainer(Protocol):
    """Trains a challenger like the champion on rows (n, channels) cut into `segments` (windows
    never straddle two), writes it to `out` and returns it loaded; a DataError when it cannot."""

    def __call__(self, values: np.ndarray, segments: np.ndarray, out: Path) -> Bundle: ...


@dataclass(frozen=True)
class Policy:
    """How often to retrain, on how many of the newest rows, and how many older kept rows
    each device remembers beside them."""

    every: int = RETRAIN_EVERY
    window: int = RETRAIN_WINDOW
    cleaning: str = "rule"  # or an extreme of it, to measure both sides (cleaning.VARIANTS)
    memory: int = RETRAIN_MEMORY

    @property
    def tail(self) -> int:
        """The newest rows of the window the challenger does not train on: the gate's."""
        return max(1, self.window // 6)


@dataclass(frozen=True)
class Block:
    """One model's results for some rows."""

    error: np.ndarray
    score: np.ndarray
    flags: np.ndarray
    top: np.ndarray
    rows: np.ndarray  # the row numbers these results are of, ascending


@dataclass(frozen=True)
class Cycle:
    """One retrain cycle: after which row, what the cleaning kept, what the gate said; the
    rows leaving the window (row numbers) and which of them the cleaning kept (the memory's)."""

    row: int
    outcome: str  # promoted, rejected, skipped, failed
    reason: str
    cleaning: Cleaning | None = None
    version: str = ""
    leaving: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    leaving_kept: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


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


def scored(scorer: Scorer, rule: AlarmRule, values: np.ndarray, start: int, end: int,
           devices: np.ndarray | None = None, window: int | None = None) -> Block:
    """A model's results for rows [start, end) (with `window`: each device's newest `window`
    rows before `end`), in row order, each device's windows and persistence reaching back into
    its rows before them (as many as exist), and so does a follow rule's history, re-scored by
    this model (as the daemon's warmup replays it); `devices` None: one device."""
    kept = rule.follow.follow.kept if rule.follow is not None else 0
    back = (scorer.window - 1) + (rule.persistence.n - 1) + kept
    rows, inside = rows_of(devices, start, end, back, window)
    own = None if devices is None else np.asarray(devices)[rows]
    windows, ends = windows_by_device(values[rows], scorer.window, own)
    n = len(rows)
    error, score = np.full(n, np.nan), np.full(n, np.nan)
    top = np.full(n, "", dtype=object)
    have = np.zeros(n, dtype=bool)
    if len(ends):
        result = scorer.score(windows)
        error[ends], score[ends], have[ends] = result.error, result.score, True
        top[ends] = np.asarray(scorer.channels, dtype=object)[result.top_channel]
    flags = rule.flag_rows(score, have, own, error)
    return Block(error[inside], score[inside], flags[inside], top[inside], rows[inside])


def training_rows(values: np.ndarray, train: np.ndarray, own: np.ndarray | None,
                  memory: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """The challenger's rows (the window's `train` rows device by device, then the memory's)
    and a segment per row: no training window straddles a hole, two devices or two stretches."""
    order = grouped(own, len(values))
    kept = train[order]
    cuts = segments(kept, None if own is None else own[order])[kept]
    rows = values[order][kept]
    if memory is None or not len(memory[0]):
        return rows, cuts
    first = int(cuts.max()) + 1 if len(cuts) else 0
    return np.concatenate([rows, memory[0]]), np.concatenate([cuts, memory[1] + first])


def cycle(champion: Bundle, values: np.ndarray, labels: np.ndarray | None, end: int,
          policy: Policy, trainer: Trainer, out: Path, need: int,
          devices: np.ndarray | None = None, served: np.ndarray | None = None,
          memory: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[Cycle, Bundle | None]:
    """One retrain cycle on each device's newest `policy.window` rows before `end` (`devices`
    None: one device): the Cycle and the challenger if promoted. `served` (one bool per row, or
    None) marks the rows the serving replicas flagged: incidents to the cleaning rule as the
    champion's own flags are. `memory`: remembered rows and their segments, trained on too."""
    margin, lead = margins_of(champion.meta)
    champ = scored(Scorer(champion), AlarmRule.of(champion.meta), values, 0, end, devices,
                   policy.window)
    win = champ.rows
    own = None if devices is None else np.asarray(devices)[win]
    window_labels = None if labels is None else labels[win]
    flags = champ.flags if served is None else champ.flags | np.asarray(served, bool)[win]
    cleaning = clean_as(policy.cleaning, flags, champ.score, window_labels, margin, lead, own)
    going = leaving(len(win), policy.window, policy.every, own)
    made = {"cleaning": cleaning, "leaving": win[going], "leaving_kept": cleaning.keep[going]}
    train = cleaning.keep & ~newest_rows(len(win), policy.tail, own)
    rows, cuts = training_rows(values[win], train, own, memory)
    if len(rows) < need:
        return Cycle(end, "skipped", "too-few-clean-rows", **made), None
    try:
        challenger = trainer(rows, cuts, out)
    except DataError as exc:
        return Cycle(end, "failed", f"training refused: {exc}", **made), None
    chall = scored(Scorer(challenger), AlarmRule.of(challenger.meta), values, 0, end, devices,
                   policy.window)
    quiet, checked = evaluation_rows(cleaning, champ.flags, policy.tail, own)
    target = float(challenger.meta["calibration"]["target_far"])
    decision: Decision = decide(stats_of(champ.score, champ.flags, quiet, checked),
                                stats_of(chall.score, chall.flags, quiet, checked),
                                target, cleaning.stale)
    outcome = "promoted" if decision.promote else "rejected"
    return (Cycle(end, outcome, decision.reason, version=challenger.version, **made),
            challenger if decision.promote else None)


def backtest(champion: Bundle, values: np.ndarray, first: int, policy: Policy, trainer: Trainer,
             work: Path, labels: np.ndarray | None = None, need: int = 1,
             progress: Callable[[str], None] = lambda _: None,
             devices: np.ndarray | None = None) -> Result:
    """Serve rows [first, len(values)) as the lifecycle would, starting from `champion`; rows
    before `first` are history (windows, persistence and the first retrain windows). With
    `devices` (one id per row, interleaved), a cycle every `every` rows per device, as the
    live retrainer does, each device's rows its own sequence."""
    n = len(values) - first
    block_rows = policy.every * (1 if devices is None else len(set(np.asarray(devices).tolist())))
    result = Result(np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, bool),
                    np.full(n, "", dtype=object), np.full(n, "", dtype=object))
    memory = Memory(policy.memory)
    at = first
    while at < len(values):
        end = min(at + block_rows, len(values))
        block = scored(Scorer(champion), AlarmRule.of(champion.meta), values, at, end, devices)
        rows = slice(at - first, end - first)
        result.error[rows], result.score[rows] = block.error, block.score
        result.flags[rows], result.top[rows] = block.flags, block.top
        result.versions[rows] = champion.version
        at = end
        if at >= len(values):
            break
        done, promoted = cycle(champion, values, labels, at, policy, trainer,
                               work / f"challenger-{len(result.cycles)}", need, devices,
                               memory=memory.rows(values.shape[1]) if policy.memory else None)
        memory.add(values[done.leaving], done.leaving_kept, done.leaving,
                   None if devices is None else np.asarray(devices)[done.leaving])
        result.cycles.append(done)
        progress(f"row {at - first}/{n}: {done.outcome} ({done.reason})"
                 + (f", now serving {promoted.version}" if promoted else "")
                 + (f"; {done.cleaning.summary()}" if done.cleaning else "")
                 + (f"; memory {len(memory)} rows" if policy.memory else ""))
        if promoted is not None:
            champion = promoted
    return result
