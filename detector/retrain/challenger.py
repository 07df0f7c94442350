"""One retrain cycle in a child process at low priority, so that scoring never waits for it.

The child (one worker, started once, TensorFlow loaded there only) runs the lifecycle's own cycle
(detector.lifecycle.backtest.cycle, as `detector backtest` does): the champion in the model
directory re-scores the held window, the cleaning rule picks the rows, a challenger trains like
the champion, the gate decides. It returns a plain Result; the parent promotes and publishes.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NICE = 10  # the retrainer's priority below the serving replicas', and its child's below it
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when the one that started it ends


@dataclass(frozen=True)
class Job:
    """What the child needs: the model directory, the held window (each device's newest
    `window` readings, interleaved in arrival order) and where to write."""

    model: str
    values: np.ndarray
    labels: np.ndarray  # bool: labelled anomalous
    devices: np.ndarray
    out: str
    window: int = 0  # readings per device (0: all held)
    served: np.ndarray | None = None  # bool: flagged by the serving replicas
    every: int = 0  # readings per device between cycles (0: the window)
    memory: np.ndarray | None = None  # the remembered rows (detector.lifecycle.memory) ...
    memory_segments: np.ndarray | None = None  # ... and a segment per row


@dataclass(frozen=True)
class Result:
    """How a cycle ended: outcome (promoted, rejected, failed), the reason, the champion and the
    challenger's versions, the challenger's folder when promoted, what the cleaning did; the
    held readings leaving the window (indices into the job's) and which the cleaning kept."""

    outcome: str
    reason: str
    champion: str
    challenger: str = ""
    path: str | None = None
    cleaning: str = ""
    leaving: np.ndarray | None = None
    leaving_kept: np.ndarray | None = None


def lower_priority() -> None:
    """In the child: a lower CPU priority and one thread for TensorFlow and BLAS."""
    os.nice(NICE)
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS",
                 "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(name, "1")


def die_with_parent() -> None:
    """In the child (Linux): be killed when the retrainer ends, however it ends (SIGKILL, the
    OOM killer), rather than train on or idle with its memory for ever; elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it ended before the prctl
        os._exit(1)


def start_child() -> None:
    """The worker's initializer: it dies with the retrainer and runs below it."""
    die_with_parent()
    lower_priority()


def pool() -> ProcessPoolExecutor:
    """The one worker process the cycles run in (spawned: no Kafka client crosses over)."""
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=start_child)


def abandon(executor: ProcessPoolExecutor) -> None:
    """End the worker and whatever cycle it runs (when the retrainer stops)."""
    for child in multiprocessing.active_children():
        child.terminate()
    executor.shutdown(wait=False, cancel_futures=True)


def submit(executor: ProcessPoolExecutor, job: Job) -> Future:
    """Run `job` in the worker; a Future of its Result."""
    return executor.submit(run, job)


def run(job: Job) -> Result:
    """One cycle (in the child): the lifecycle's cycle on the held window, with a trainer that
    trains like the champion (its recorded training settings)."""
    from detector.core.bundle import load_bundle
    from detector.errors import DetectorError
    from detector.lifecycle.backtest import Policy, cycle
    from detector.offline.data_checks import need_rows
    from detector.offline.recipe import settings_of, trainer_like

    champion = load_bundle(job.model)
    settings = settings_of(champion)
    if settings is None:
        return Result("failed", f"{job.model} records no training settings", champion.version)

    trainer = trainer_like(settings, champion.channels)
    n, window = len(job.values), job.window or len(job.values)
    memory = None
    if job.memory is not None and job.memory_segments is not None and len(job.memory):
        memory = (job.memory, job.memory_segments)
    try:
        done, promoted = cycle(champion, job.values, job.labels, n,
                               Policy(job.every or window, window), trainer, Path(job.out),
                               need_rows(champion.window, settings.holdout), job.devices,
                               job.served, memory)
    except DetectorError as exc:
        return Result("failed", str(exc), champion.version)
    outcome = "failed" if done.outcome == "skipped" else done.outcome
    summary = done.cleaning.summary() if done.cleaning is not None else ""
    return Result(outcome, done.reason, champion.version, done.version,
                  str(promoted.path) if promoted is not None else None, summary, done.leaving,
                  done.leaving_kept)
