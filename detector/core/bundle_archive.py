"""A bundle as one value (for the model topic): its three files in a zip archive, and back.

Unpacking trusts nothing: the archive must hold exactly the bundle's files, by name, each within
a size limit, or it is refused with a BundleError; the unpacked bundle is then loaded and checked
like any other (detector.core.bundle.load_bundle), its version hash included.
"""

from __future__ import annotations

import calendar
import io
import os
import tempfile
import time
import zipfile
from pathlib import Path

from detector.core.bundle import ARRAYS_FILE, META_FILE, MODEL_FILE
from detector.errors import BundleError

FILES = (META_FILE, MODEL_FILE, ARRAYS_FILE)
MAX_UNPACKED_BYTES = 512 * 1024 * 1024  # the three files together, once inflated


def pack(path: str | Path) -> bytes:
    """The bundle directory's files as one zip archive (deflated; each entry dated with its
    file's time in UTC, so the model's age survives the trip)."""
    path = Path(path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in FILES:
            stamp = max(time.gmtime((path / name).stat().st_mtime)[:6], (1980, 1, 1, 0, 0, 0))
            info = zipfile.ZipInfo(name, stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, (path / name).read_bytes())
    return buffer.getvalue()


def unpack(data: bytes, into: str | Path, limit: int = MAX_UNPACKED_BYTES) -> Path:
    """Write the archive's bundle into a new directory under `into`; its path, or a BundleError
    (not a zip, other or missing files, larger than `limit` inflated) with nothing left behind."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise BundleError(f"not a bundle archive ({len(data)} bytes, not a zip): {exc}") from None
    with archive:
        infos = archive.infolist()
        names = sorted(info.filename for info in infos)
        if names != sorted(FILES):
            raise BundleError(f"not a bundle archive: it holds {', '.join(names[:5]) or 'nothing'}"
                              f", not exactly {', '.join(FILES)}")
        declared = sum(info.file_size for info in infos)
        if declared > limit:
            raise BundleError(f"the bundle archive inflates to {declared} bytes, over the "
                              f"limit of {limit}")
        out = Path(tempfile.mkdtemp(prefix="bundle-", dir=into))
        try:
            for info in infos:
                write_entry(archive, info, out / info.filename, limit)
        except BaseException:
            remove_tree(out)
            raise
    return out


def write_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path,
                limit: int) -> None:
    """Copy one entry to `target`, reading at most `limit` bytes (a lying header is caught)."""
    try:
        with archive.open(info) as source:
            data = source.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:  # CRC, truncated ...
        raise BundleError(f"the bundle archive is corrupt ({info.filename}: {exc})") from None
    if len(data) > limit:
        raise BundleError(f"{info.filename} in the bundle archive inflates past {limit} bytes")
    target.write_bytes(data)
    when = calendar.timegm((*info.date_time, 0, 0, 0))
    os.utime(target, (when, when))


def remove_tree(path: Path) -> None:
    """Remove an unpacked bundle directory (its files, then itself)."""
    for child in path.iterdir() if path.is_dir() else ():
        os.unlink(child)
    if path.is_dir():
        path.rmdir()
