"""A bundle as one record's value: packed whole, unpacked only when it is exactly a bundle."""

import io
import zipfile

import pytest

from detector.core.bundle_archive import FILES, pack, unpack
from detector.errors import BundleError


@pytest.fixture
def bundle_dir(tmp_path):
    path = tmp_path / "bundle"
    path.mkdir()
    for i, name in enumerate(FILES):
        (path / name).write_bytes(bytes([i]) * (1000 + i))
    return path


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_packed_bundle_unpacks_to_the_same_files_and_packs_to_the_same_bytes(bundle_dir,
                                                                              tmp_path):
    data = pack(bundle_dir)
    out = unpack(data, tmp_path)
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    for name in FILES:
        assert (out / name).read_bytes() == (bundle_dir / name).read_bytes()
    assert pack(out) == data  # the files and their times


@pytest.mark.parametrize(("data", "says"), [
    (b"not a zip at all", "not a zip"),
    (zipped({"bundle.json": b"{}"}), "not exactly"),
    (zipped({**{n: b"x" for n in FILES}, "extra.py": b"x"}), "not exactly"),
    (zipped({**{n: b"x" for n in FILES[1:]}, "../bundle.json": b"x"}), "not exactly"),
])
def test_anything_but_exactly_a_bundle_is_refused_and_leaves_nothing(tmp_path, data, says):
    with pytest.raises(BundleError, match=says):
        unpack(data, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_archive_that_inflates_past_the_limit_is_refused(tmp_path):
    data = zipped({n: b"\0" * 100_000 for n in FILES})
    assert len(data) < 10_000
    with pytest.raises(BundleError, match="inflates"):
        unpack(data, tmp_path, limit=200_000)
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_entry_is_refused_and_leaves_nothing(bundle_dir, tmp_path):
    data = bytearray(pack(bundle_dir))
    data[60:80] = b"\xff" * 20  # inside the first entry's compressed bytes
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BundleError):
        unpack(bytes(data), out)
    assert list(out.iterdir()) == []


def test_the_bundles_time_survives_the_trip(bundle_dir, tmp_path):
    import os

    when = 1_700_000_000
    for name in FILES:
        os.utime(bundle_dir / name, (when, when))
    out = unpack(pack(bundle_dir), tmp_path)
    assert abs((out / "bundle.json").stat().st_mtime - when) <= 2  # zip keeps 2 s steps
