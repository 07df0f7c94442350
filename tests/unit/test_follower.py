"""The model topic's follower, on a reader of records in memory: the newest good bundle served
at start, each new one offered once, anything else counted and the model kept."""

from pathlib import Path

from detector.core.bundle_archive import FILES, pack
from detector.stream.follower import ModelFollower
from detector.stream.ports import ModelRecord


class Reader:
    """Records handed out as the topic's end at start, then one list per poll."""

    def __init__(self, newest: ModelRecord | None, later: list[list[ModelRecord]]) -> None:
        self.newest = newest
        self.later = later
        self.closed = False

    def read_to_end(self, timeout: float = 60.0) -> ModelRecord | None:
        return self.newest

    def poll(self, timeout_ms: int) -> list[ModelRecord]:
        return self.later.pop(0) if self.later else []

    def close(self) -> None:
        self.closed = True


class Loaded:
    """What load_model would give: a version and channels (read from the unpacked files)."""

    def __init__(self, path: Path) -> None:
        self.version = (path / "bundle.json").read_text()
        self.channels = ["a"]


def archive(tmp_path: Path, version: str) -> bytes:
    folder = tmp_path / f"src-{version}"
    folder.mkdir()
    for name in FILES:
        (folder / name).write_text(version if name == "bundle.json" else "x")
    return pack(folder)


def follower(reader: Reader, results: list, max_bytes: int = 1 << 20) -> ModelFollower:
    current = Loaded.__new__(Loaded)
    current.version, current.channels = "v0", ["a"]
    return ModelFollower(reader, "models", current, lambda r, m: results.append((r, m)),
                         load=lambda path, channels: Loaded(path), max_bytes=max_bytes)


def test_the_newest_bundle_is_served_from_the_start_not_swapped_in(tmp_path):
    results: list = []
    f = follower(Reader(ModelRecord(3, "v1", archive(tmp_path, "v1")), []), results)
    model = f.catch_up()
    assert model is not None and model.version == "v1"
    assert f.take() is None and results == []
    f.stop()


def test_each_new_bundle_is_offered_once_and_the_served_one_skipped(tmp_path):
    results: list = []
    later = [[ModelRecord(4, "v1", archive(tmp_path, "v1"))],
             [ModelRecord(5, "v1", archive(tmp_path, "v1b"))]]
    f = follower(Reader(None, later), results)
    assert f.catch_up() is None
    f.handle(later[0][0])
    assert f.take().version == "v1" and f.take() is None
    f.handle(later[1][0])  # the version in use again: not loaded
    assert f.take() is None and results == []
    f.stop()


def test_corrupt_oversized_and_tombstone_records_change_nothing(tmp_path):
    results: list = []
    f = follower(Reader(None, []), results, max_bytes=100_000)
    f.handle(ModelRecord(1, "junk", b"PK\x03\x04 not a zip"))
    f.handle(ModelRecord(2, "big", b"x" * 100_001))
    f.handle(ModelRecord(3, None, None))
    assert f.take() is None and f.version == "v0"
    assert [r for r, _ in results] == ["error", "error"]
    assert "over the 100000" in results[1][1]
    assert list(f.workdir.iterdir()) == []  # nothing unpacked is left behind
    f.stop()
    assert not f.workdir.exists()
