"""Follow the model topic: read it to its end at start, then hot-swap on every new bundle.

As Kafka Connect's KafkaBasedLog reads its config topic: no consumer group, the one partition
assigned, read from the beginning to the end offset before serving starts (the newest bundle
wins), then followed in a thread. Each new record is unpacked aside, loaded and checked exactly
as the directory reloader does (detector.stream.reloader), and offered through the same take():
the daemon swaps it in between batches. A record that is not a whole, matching bundle (corrupt,
oversized, other channels) is one log line and a `detector_model_reloads_total{result="error"}`;
the model served does not change.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from detector.core.bundle_archive import remove_tree, unpack
from detector.stream.ports import ModelReader, ModelRecord
from detector.stream.reloader import Model, ModelOffer, load_model

log = logging.getLogger(__name__)
MAX_BUNDLE_BYTES = 64 * 1024 * 1024  # the largest record taken as a bundle
KEPT_DIRS = 2  # unpacked bundles kept: the one served and the one before it


class ModelFollower(ModelOffer):
    """Reads the model topic through a reader of its own; offers new models through take()."""

    def __init__(self, reader: ModelReader, topic: str, current: Model,
                 on_result: Callable[[str, str], None],
                 load: Callable[[Path, Sequence[str]], Model] = load_model,
                 max_bytes: int = MAX_BUNDLE_BYTES, poll_ms: int = 500) -> None:
        super().__init__(current, on_result, load, "model-follower")
        self.reader = reader
        self.topic = topic
        self.max_bytes = max_bytes
        self.poll_ms = poll_ms
        self.workdir = Path(tempfile.mkdtemp(prefix="detector-models-"))
        self.dirs: list[Path] = []

    def catch_up(self, timeout: float = 60.0) -> Model | None:
        """Read the topic from its start to its end offset; the newest bundle's model, if any
        loads (a bad newest bundle is reported and the model in hand kept)."""
        newest = self.reader.read_to_end(timeout)
        model = self.handle(newest) if newest is not None else None
        self.offered = None  # served from the start, not swapped in
        return model

    def run(self) -> None:
        self.follow()

    def stop(self) -> None:
        super().stop()
        try:
            self.reader.close()
        except Exception as exc:  # closing must not hide why the loop ended
            log.warning("closing the model topic's consumer: %s", exc)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def follow(self) -> None:
        """Poll the topic until stopped; each poll's newest record is the one that counts."""
        while not self.stopping.is_set():
            try:
                records = self.reader.poll(self.poll_ms)
            except Exception as exc:  # the broker away: the client reconnects by itself
                log.warning("reading the model topic %s failed (%s); retrying", self.topic, exc)
                self.stopping.wait(1.0)
                continue
            if records:
                self.handle(records[-1])

    def handle(self, record: ModelRecord) -> Model | None:
        """Load the record's bundle unless it is the version in use; offer it, report the result."""
        if record.value is None:  # a tombstone: nothing to load
            return None
        version = record.version
        if version == self.version:
            log.info("model topic %s: bundle %s is already served", self.topic, version)
            return None
        where, path = f"model topic {self.topic} offset {record.offset}", None
        try:
            if len(record.value) > self.max_bytes:
                raise ValueError(f"the record is {len(record.value)} bytes, over the "
                                 f"{self.max_bytes} a bundle may take")
            path = unpack(record.value, self.workdir)
            model = self.load(path, self.channels)
        except Exception as exc:  # anything wrong with the new bundle keeps the old model
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.error("bundle at %s rejected, keeping model %s: %s", where, self.version, message)
            self.on_result("error", message)
            if path is not None:
                remove_tree(path)
            return None
        self.offer(model)
        self.version = model.version
        self.keep(path)
        log.info("bundle %s loaded from %s; it takes over at the next batch", model.version, where)
        return model

    def keep(self, path: Path) -> None:
        """Remember an unpacked bundle; remove all but the newest KEPT_DIRS of them."""
        self.dirs.append(path)
        while len(self.dirs) > KEPT_DIRS:
            remove_tree(self.dirs.pop(0))
