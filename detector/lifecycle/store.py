"""A model directory that keeps its history: promote, list, roll back (docs/lifecycle.md).

DIR is the bundle the serving replicas load and hot-reload (`detector serve --model DIR`): its
`bundle.json`, `model.keras` and `weights.npz` are always one whole bundle. `DIR/history/` keeps
the last `keep` bundles by version (`history/<version>/`) and `history/log.jsonl`, one line per
change (time, from, to, action, reason). Installing a bundle copies its files aside in DIR and
renames them into place, `bundle.json` last: the reloader only loads files that held still for
one interval, so it never loads a half-installed bundle. One writer at a time (a lock file).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from detector.core.bundle import ARRAYS_FILE, META_FILE, MODEL_FILE, load_bundle, read_meta
from detector.errors import BundleError

HISTORY = "history"
LOG = "log.jsonl"
KEEP = 5  # bundles kept in the history (never fewer than the current and the one before)
FILES = (ARRAYS_FILE, MODEL_FILE, META_FILE)  # in install order: bundle.json last


@dataclass(frozen=True)
class Entry:
    """A bundle of the history: its version, when it last became current, why, and whether it
    serves now."""

    version: str
    since: float
    action: str
    reason: str
    current: bool


class ModelStore:
    """The model directory DIR and its history."""

    def __init__(self, path: str | Path, keep: int = KEEP) -> None:
        self.path = Path(path)
        self.history = self.path / HISTORY
        self.keep = max(2, keep)

    def current(self) -> str | None:
        """The version DIR serves (None when DIR holds no bundle yet)."""
        if not (self.path / META_FILE).is_file():
            return None
        return str(read_meta(self.path)["version"])

    def log(self) -> list[dict]:
        """The changes in order (oldest first)."""
        try:
            lines = (self.history / LOG).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def entries(self) -> list[Entry]:
        """The bundles of the history, newest change first; the current one marked."""
        current, seen, found = self.current(), set(), []
        for change in reversed(self.log()):
            version = change["to"]
            if version in seen or not (self.history / version).is_dir():
                continue
            seen.add(version)
            found.append(Entry(version, change["time"], change["action"], change["reason"],
                               version == current))
        if current is not None and current not in seen:
            found.insert(0, Entry(current, (self.path / META_FILE).stat().st_mtime, "installed",
                                  "", True))
        return found

    def promote(self, bundle: str | Path, reason: str = "promoted") -> str:
        """Make the bundle at `bundle` the one DIR serves, keep it in the history; its version."""
        loaded = load_bundle(bundle)
        with self.locked():
            self.keep_current()
            self.archive(Path(bundle), loaded.version)
            return self.install(loaded.version, "promote", reason)

    def rollback(self, version: str | None = None) -> str:
        """Serve `version` of the history again (default: the one before the current); its version.
        A version the history does not hold is a BundleError and changes nothing."""
        self.target(version)  # refused before the lock makes DIR/history
        with self.locked():
            version = self.target(version)
            return self.install(version, "rollback", f"from {self.current()}")

    def target(self, version: str | None = None) -> str:
        """The version a rollback to `version` would serve (checked whole and unedited), or a
        BundleError; changes nothing."""
        if not self.history.is_dir():
            raise BundleError(f"{self.path}: no model history to roll back to (a promotion "
                              "starts it)")
        current = self.current()
        if version is None:
            earlier = [e.version for e in self.entries() if e.version != current]
            if not earlier:
                raise BundleError(f"{self.path}: no earlier model to roll back to "
                                  "(`detector models list` shows the history)")
            version = earlier[0]
        if not re.fullmatch("[0-9a-f]{12}", version) or not (self.history / version).is_dir():
            held = ", ".join(e.version for e in self.entries()) or "none"
            raise BundleError(f"{self.path}: no model version {version!r} in its history "
                              f"(held: {held})")
        load_bundle(self.history / version)  # whole and unedited, or refused
        return version

    @contextmanager
    def locked(self) -> Iterator[None]:
        """One writer at a time."""
        self.history.mkdir(parents=True, exist_ok=True)
        with open(self.history / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def keep_current(self) -> None:
        """Copy the bundle DIR serves into the history, if it is not there yet."""
        current = self.current()
        if current is not None and not (self.history / current).is_dir():
            self.archive(self.path, current)
            self.append({"to": current, "from": None, "action": "installed", "reason": ""})

    def archive(self, source: Path, version: str) -> None:
        """Copy a bundle's three files to history/<version> (aside, then renamed)."""
        target = self.history / version
        if target.is_dir():
            return
        tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=self.history))
        try:
            for name in FILES:
                shutil.copy2(source / name, tmp / name)
            os.chmod(tmp, 0o755)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def install(self, version: str, action: str, reason: str) -> str:
        """Copy history/<version> into DIR file by file, bundle.json last; log it; prune."""
        before = self.current()
        for name in FILES:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=self.path)
            os.close(fd)
            try:
                shutil.copyfile(self.history / version / name, tmp)
                os.chmod(tmp, 0o644)
                os.replace(tmp, self.path / name)
            finally:
                Path(tmp).unlink(missing_ok=True)
        self.append({"to": version, "from": before, "action": action, "reason": reason})
        self.prune()
        return version

    def append(self, change: dict) -> None:
        """One line on the log."""
        with open(self.history / LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps({"time": time.time(), **change}) + "\n")

    def prune(self) -> None:
        """Keep the newest `keep` bundles of the history (the current one always)."""
        kept = [e.version for e in self.entries()][: self.keep]
        for folder in self.history.iterdir():
            if folder.is_dir() and not folder.name.startswith(".") and folder.name not in kept:
                shutil.rmtree(folder, ignore_errors=True)
