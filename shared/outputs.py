"""Output paths: checked before any work starts, and written atomically.

`check_file` and `check_folder` refuse, with an OutputError naming the option and the reason, an
output the command could not write: a file whose folder is missing, a parent that is a file, a
folder where nothing can be created (read-only, or not ours). They probe by creating and removing
a temporary file, so the answer is the file system's own, whoever runs the command.

`atomic_file` and `atomic_folder` write into a temporary sibling that is renamed into place only
when complete: a failed command leaves nothing behind, and a reader never sees half a file.
Pure: the standard library only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from shared.wire import OutputError


def _umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _describe(exc: OSError) -> str:
    """An OSError's reason without its errno number."""
    return exc.strerror or str(exc)


def probe(folder: Path, option: str, path: Path) -> None:
    """Create and remove a temporary file in `folder`, or raise an OutputError saying why not."""
    try:
        fd, name = tempfile.mkstemp(prefix=".write-test.", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise OutputError(f"{option} {path}: cannot write in {folder} ({_describe(exc)})") from exc


def check_file(path: str | Path, option: str) -> Path:
    """An output file whose folder exists and is writable; the path."""
    try:
        target = Path(path)
        parent = target.parent
        if target.is_dir():
            raise OutputError(f"{option} {target}: is a folder; give a file name")
        if not parent.exists():
            raise OutputError(f"{option} {target}: the folder {parent} does not exist")
        if not parent.is_dir():
            raise OutputError(f"{option} {target}: {parent} is a file, not a folder")
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte
        raise OutputError(f"{option} {path!r}: not a usable path ({exc})") from exc
    probe(parent, option, target)
    return target


def existing_ancestor(path: Path) -> Path:
    """The path itself or its nearest ancestor that exists."""
    here = path
    while not here.exists() and here != here.parent:
        here = here.parent
    return here


def check_folder(path: str | Path, option: str) -> Path:
    """An output folder that exists, or can be created with its parents; the path."""
    try:
        target = Path(path)
        if target.exists() and not target.is_dir():
            raise OutputError(f"{option} {target}: is a file; give a folder")
        base = existing_ancestor(target)
        if not base.is_dir():
            raise OutputError(f"{option} {target}: {base} is a file, not a folder")
    except (OSError, ValueError) as exc:
        raise OutputError(f"{option} {path!r}: not a usable path ({exc})") from exc
    probe(base, option, target)
    return target


class AtomicFile:
    """A temporary file beside `path`: `commit()` renames it to `path`, `discard()` removes it."""

    def __init__(self, path: str | Path, mode: str = "w", **kwargs: Any) -> None:
        self.target = Path(path)
        fd, self.name = tempfile.mkstemp(
            prefix=f".{self.target.name}.", suffix=".tmp", dir=self.target.parent
        )
        try:
            os.fchmod(fd, 0o666 & ~_umask())
            self.file: IO = open(fd, mode, **kwargs)  # noqa: SIM115 (closed by commit/discard)
        except BaseException:
            os.close(fd)
            os.unlink(self.name)
            raise

    def commit(self) -> None:
        """Close the file and rename it into place."""
        self.file.close()
        os.replace(self.name, self.target)

    def discard(self) -> None:
        """Close and remove the file."""
        with suppress(OSError):
            self.file.close()
        with suppress(OSError):
            os.unlink(self.name)


@contextmanager
def atomic_file(path: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """An open temporary file beside `path`, renamed to `path` when the block completes."""
    atomic = AtomicFile(path, mode, **kwargs)
    try:
        yield atomic.file
        atomic.commit()
    except BaseException:
        atomic.discard()
        raise


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """A temporary folder whose files move into `path` (created if need be) when complete."""
    target = Path(path)
    base = existing_ancestor(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=base))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            tmp.rename(target)
            return
        for item in tmp.iterdir():
            os.replace(item, target / item.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
