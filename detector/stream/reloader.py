"""The served model, and hot reload: watch the bundle directory, load a new bundle aside.

The watcher polls the stat of `bundle.json` and `model.keras` every `interval` seconds (no extra
dependency). A change is loaded once it has held still for one interval (a copy in progress is
not read half-way), in a background thread, and checked: same channels as the model in use. The
daemon swaps it in between batches (with fresh per-device windows). A bad new bundle keeps the old
model.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from detector.core.alarm import AlarmRule
from detector.core.bundle import ARRAYS_FILE, META_FILE, MODEL_FILE, Bundle, load_bundle, read_meta
from detector.errors import BundleError
from detector.stream.decode import Decoder

if TYPE_CHECKING:  # imported when a model is loaded: scoring may bring in TensorFlow
    from detector.core.scoring import Scorer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Model:
    """What the serve loop needs of a bundle: its scorer, alarm rule and a decoder."""

    bundle: Bundle
    scorer: Scorer
    rule: AlarmRule
    decoder: Decoder
    born: float = 0.0  # Unix time its bundle.json was written (the model's age counts from it)

    @property
    def version(self) -> str:
        return self.bundle.version

    @property
    def channels(self) -> list[str]:
        return self.bundle.channels

    @classmethod
    def of(cls, bundle: Bundle) -> Model:
        """The model of a loaded bundle, its scorer warmed up (the first call traced now)."""
        from detector.core.scoring import Scorer

        scorer = Scorer(bundle)
        scorer.score(np.zeros((1, bundle.window, len(bundle.channels))))
        try:
            born = (Path(bundle.path) / META_FILE).stat().st_mtime
        except OSError:
            born = time.time()
        return cls(bundle, scorer, AlarmRule.of(bundle.meta), Decoder(bundle.channels), born)


def load_model(path: str | Path, channels: Sequence[str] | None = None) -> Model:
    """Load a bundle for serving, warm its scorer up, or raise a BundleError saying what to fix.

    `channels`, when given, are the channels the readings carry; the bundle must have them.
    """
    bundle = load_bundle(path)
    if channels is not None and list(channels) != bundle.channels:
        raise BundleError(
            f"the bundle {path} was trained on channels {', '.join(bundle.channels)}, but the "
            f"readings carry {', '.join(channels)}: train a bundle on these channels "
            "(detector train --columns ...) or point --model at one"
        )
    return Model.of(bundle)


def signature(path: Path) -> tuple[tuple[int, int, int], ...] | None:
    """What changes when the bundle does: the stat of its files (None when one is unreadable)."""
    try:
        return tuple(
            (s.st_ino, s.st_mtime_ns, s.st_size)
            for s in ((path / name).stat() for name in (META_FILE, MODEL_FILE, ARRAYS_FILE))
        )
    except OSError:
        return None


class ModelOffer:
    """A background thread that finds new models and hands each over, once, through take()."""

    def __init__(self, current: Model, on_result: Callable[[str, str], None],
                 load: Callable[[Path, Sequence[str]], Model], name: str) -> None:
        self.version = current.version
        self.channels = current.channels
        self.on_result = on_result
        self.load = load
        self.offered: Model | None = None
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name=name, daemon=True)

    def run(self) -> None:
        """Look for new models until stopped (each kind says where)."""
        raise NotImplementedError

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)

    def offer(self, model: Model) -> None:
        """Hand a newly loaded model to the next take()."""
        with self.lock:
            self.offered = model

    def take(self) -> Model | None:
        """The newly loaded model, once; None when there is none (cheap: call every batch)."""
        if self.offered is None:
            return None
        with self.lock:
            model, self.offered = self.offered, None
        return model


class Reloader(ModelOffer):
    """Watches a bundle directory in a thread; offers a newly loaded Model through take()."""

    def __init__(
        self,
        path: str | Path,
        current: Model,
        on_result: Callable[[str, str], None],
        interval: float = 2.0,
        load: Callable[[Path, Sequence[str]], Model] = load_model,
    ) -> None:
        super().__init__(current, on_result, load, "bundle-reloader")
        self.path = Path(path)
        self.interval = interval
        self.seen = signature(self.path)

    def run(self) -> None:
        self.watch()

    def watch(self) -> None:
        """Poll the bundle's signature until stopped."""
        pending: tuple[tuple[int, int, int], ...] | None = None
        while not self.stopping.wait(self.interval):
            now = signature(self.path)
            if now is None or now == self.seen:
                pending = None
                continue
            if now != pending:  # changed: wait one more interval for it to settle
                pending = now
                continue
            self.seen, pending = now, None
            self.check()

    def check(self) -> None:
        """Load the changed bundle unless it holds the version in use; report the result."""
        try:
            if read_meta(self.path)["version"] == self.version:
                log.info("bundle %s touched, version %s unchanged", self.path, self.version)
                return
            model = self.load(self.path, self.channels)
        except Exception as exc:  # anything wrong with the new bundle keeps the old model
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.error("new bundle in %s rejected, keeping model %s: %s",
                      self.path, self.version, message)
            self.on_result("error", message)
            return
        self.offer(model)
        self.version = model.version
        log.info("new bundle in %s loaded (version %s); it takes over at the next batch",
                 self.path, model.version)
