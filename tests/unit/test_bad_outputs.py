"""Bad outputs: paths that cannot be written are refused before the work, an output that fails
half-way leaves nothing, and the producer's commands write a whole CSV or one line and nothing."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from producer.cli import main as producer
from shared.outputs import atomic_file, check_file, check_folder
from shared.wire import OutputError


def test_output_paths_that_cannot_be_written_are_refused_before_the_work(tmp_path):
    afile = tmp_path / "file"
    afile.write_text("x")
    for bad in (tmp_path / "missing" / "out.csv", afile / "out.csv", tmp_path):
        with pytest.raises(OutputError, match="--out"):
            check_file(bad, "--out")
    with pytest.raises(OutputError, match="is a file"):
        check_folder(afile / "deeper" / "plots", "--plots")
    with pytest.raises(OutputError):
        check_file("/proc/no-such-place/out.csv", "--out")
    assert check_folder(tmp_path / "new" / "plots", "--plots") == tmp_path / "new" / "plots"
    assert not (tmp_path / "new").exists()  # checked, not created


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="cannot write"):
            check_file(tmp_path / "out.csv", "--out")
    finally:
        tmp_path.chmod(0o700)


def test_an_output_that_fails_half_way_leaves_nothing(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), atomic_file(target) as f:
        f.write("half")
        raise RuntimeError("disk gone")
    assert list(tmp_path.iterdir()) == []
    with atomic_file(target) as f:
        f.write("whole")
    assert target.read_text() == "whole" and list(tmp_path.iterdir()) == [target]


def run_producer(*args: str):
    """`producer ARGS` in-process."""
    return CliRunner().invoke(producer, list(args), catch_exceptions=False)


def one_line_error(result) -> bool:
    """Exit 2 with exactly one line, an `error:` one."""
    lines = result.output.strip().splitlines()
    return result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: ")


producer_options = st.fixed_dictionaries({
    "--count": st.sampled_from(["0", "1", "37", "-5", "x", "1e3", "2000000000"]),
    "--devices": st.sampled_from(["1", "3", "0", "-1", "100000", "two"]),
    "--anomaly-rate": st.sampled_from(["0", "0.05", "1", "nan", "-0.1", "inf"]),
    "--seed": st.sampled_from(["0", "7", "-1", "4294967296", "s"]),
    "--rate": st.sampled_from(["0", "10", "nan", "-1", "inf"]),
})


@settings(max_examples=40, deadline=None)
@given(options=producer_options, where=st.sampled_from(["ok", "missing", "file"]))
def test_producer_simulate_writes_a_whole_csv_or_one_line_and_nothing(options, where):
    with tempfile.TemporaryDirectory() as tmp:
        folder = {"ok": Path(tmp), "missing": Path(tmp) / "nope", "file": Path(tmp) / "f"}[where]
        (Path(tmp) / "f").write_text("a file")
        out = folder / "out.csv"
        args = [x for item in options.items() for x in item]
        result = run_producer("simulate", "--output", str(out), *args)
        if result.exit_code == 0:
            lines = out.read_text().splitlines()
            assert where == "ok" and len(lines) == int(options["--count"]) + 1
            assert lines[0] == "ts,device,seq,col_1,col_2,col_3,col_4,col_5,label"
        else:
            assert one_line_error(result), result.output
            assert not out.exists()
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["f"] + (
            ["out.csv"] if result.exit_code == 0 else [])


@pytest.mark.parametrize("rows", ["1", "0", "-3", "2000000", "many"])
def test_seed_data_refuses_bad_row_counts_with_one_line(tmp_path, rows):
    result = run_producer("seed-data", "--output", str(tmp_path / "s.csv"), "--rows", rows)
    assert one_line_error(result) and not (tmp_path / "s.csv").exists()


def test_seed_data_refuses_unwritable_outputs_and_writes_good_ones_whole(tmp_path):
    (tmp_path / "f").write_text("x")
    for bad in (tmp_path / "nope" / "s.csv", tmp_path / "f" / "s.csv", tmp_path):
        assert one_line_error(run_producer("seed-data", "--output", str(bad)))
    good = run_producer("seed-data", "--output", str(tmp_path / "s.csv"), "--rows", "50")
    assert good.exit_code == 0 and len((tmp_path / "s.csv").read_text().splitlines()) == 51
