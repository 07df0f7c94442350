"""Bad input, without TensorFlow: CSVs, labels, persistence rules, bundle.json fields, output
paths and the producer's commands each end in a result or a one-line error, never a traceback."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from detector.core.alarm import MAX_N, Persistence, parse_persistence
from detector.core.follow import MAX_SPAN, parse_follow
from detector.core.schema import parse_meta
from detector.errors import BundleError, DataError
from detector.offline.evaluate import truth_of
from detector.stream.decode import FLOAT32_MAX
from producer.cli import main as producer
from shared.outputs import atomic_file, check_file, check_folder
from shared.tables import load_table
from shared.wire import ANOMALY_WORDS, NORMAL_WORDS, OutputError
from shared.wire import FLOAT32_MAX as WIRE_FLOAT32_MAX
from tests.helpers.csv_cases import CHANNELS, CsvCase, csv_cases

FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def written(case: CsvCase, folder: Path) -> Path:
    """The case as a file in folder."""
    path = folder / "data.csv"
    path.write_bytes(case.data())
    return path


@FEW
@given(case=csv_cases())
def test_a_csv_is_loaded_whole_and_sound_or_refused_for_the_reason_predicted(case):
    with tempfile.TemporaryDirectory() as tmp:
        path = written(case, Path(tmp))
        reason = case.refusal(CHANNELS)
        event(reason or "accepted")
        if reason is not None:
            with pytest.raises(DataError) as refused:
                load_table(path, CHANNELS)
            assert "\n" not in str(refused.value), reason
            return
        table = load_table(path, CHANNELS)
    assert table.values.shape == (len(case.rows), len(CHANNELS))
    assert np.isfinite(table.values).all() and (np.abs(table.values) <= FLOAT32_MAX).all()


@FEW
@given(case=csv_cases())
def test_channels_found_by_themselves_are_distinct_named_columns_of_finite_numbers(case):
    with tempfile.TemporaryDirectory() as tmp:
        try:
            table = load_table(written(case, Path(tmp)))
        except DataError as exc:
            assert str(exc) and "\n" not in str(exc)
            return
    names = [name.strip() for name in case.header]
    assert len(set(table.channels)) == len(table.channels) and set(table.channels) <= set(names)
    assert np.isfinite(table.values).all() and (np.abs(table.values) <= FLOAT32_MAX).all()


def test_offline_and_online_share_the_float32_rule():
    assert WIRE_FLOAT32_MAX == FLOAT32_MAX


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2,3\n4,5,6\n", "header row"),
        ("a,a,b\n1,2,3\n", "more than once"),
        ("a,,b\n1,2,3\n", "no name"),
        ("a,b\n1,2,3\n", "more cells"),
        ("a,b\n1e300,2\n", "float32"),
        ("a,b\n", "no rows"),
        ("", "header row"),
    ],
)
def test_each_kind_of_bad_csv_is_named(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        load_table(path)


def test_columns_named_twice_are_refused(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="more than once"):
        load_table(path, ["a", "a"])


label_cells = st.one_of(
    st.sampled_from([*NORMAL_WORDS, *ANOMALY_WORDS, "Normal", " SPIKE ", "TRUE"]),
    st.sampled_from([0, 1, 0.0, 1.0, True, False]),
    st.sampled_from(["yes", "no", "", "nan", "2", "-1", "0.5", "abnormal"]),
    st.text(max_size=6),
    st.floats(allow_nan=True),
    st.none(),
)


@FEW
@given(labels=st.lists(label_cells, min_size=1, max_size=20))
def test_labels_follow_one_vocabulary_or_the_unknown_values_are_named(labels):
    cells = np.asarray(labels, dtype=object)
    words = [str(v).strip().lower() for v in labels]
    try:
        truth = truth_of(cells)
    except DataError as exc:
        assert "empty" in str(exc) or "outside the vocabulary" in str(exc)
        return
    for value, word, flag in zip(labels, words, truth.tolist(), strict=True):
        if isinstance(value, bool | int | float):
            assert flag == (float(value) == 1.0)
        else:
            assert flag == (word in ANOMALY_WORDS) and word in (*NORMAL_WORDS, *ANOMALY_WORDS)


rules = st.builds(lambda k, n: f"{k}/{n}", st.integers(-5, 2000), st.integers(-5, 2000))


@FEW
@given(text=st.one_of(st.text(max_size=12), rules))
def test_persistence_rules_parse_within_bounds_or_say_what_to_write(text):
    try:
        rule = parse_persistence(text)
    except DataError as exc:
        assert "K/N" in str(exc) or "k <= n" in str(exc)
        return
    assert isinstance(rule, Persistence) and 1 <= rule.k <= rule.n <= MAX_N


@FEW
@given(text=st.one_of(st.text(max_size=12), rules, st.just("off")))
def test_threshold_follows_parse_within_bounds_or_say_what_to_write(text):
    try:
        follow = parse_follow(text)
    except DataError as exc:
        assert str(exc).startswith("--threshold-follow ") and "\n" not in str(exc)
        assert "LAG/ROWS" in str(exc) or "ROWS >= 1" in str(exc) or "LAG + ROWS" in str(exc)
        return
    assert not follow.active or (follow.lag >= 0 and follow.rows >= 1
                                 and follow.lag + follow.rows <= MAX_SPAN)


GOOD_META = {
    "format": 1,
    "version": "0123456789ab",
    "channels": ["a", "b"],
    "window": 2,
    "architecture": {"kind": "dense", "hidden": [5, 2], "activation": "linear", "window": 2},
    "scale": {"mean": [0.0, 1.0], "std": [1.0, 2.0]},
    "calibration": {"method": "pot", "target_far": 0.001, "threshold": 0.5},
    "persistence": {"k": 1, "n": 2},
    "training": {"rows": 10},
    "threshold_follow": {"lag": 3, "rows": 2, "median": 0.1, "calibrated_threshold": 0.4},
}
FIELDS = [("format",), ("version",), ("channels",), ("window",), ("architecture", "window"),
          ("architecture", "activation"), ("architecture", "hidden"), ("scale", "std"),
          ("scale", "mean"), ("calibration", "threshold"), ("calibration", "method"),
          ("persistence",), ("persistence", "n"), ("channels", 0), ("scale", "std", 1),
          ("threshold_follow",), ("threshold_follow", "rows"), ("threshold_follow", "median")]
odd_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=8),
    st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.text(max_size=3),
                                                              st.integers(), max_size=2),
)


@FEW
@given(field=st.sampled_from(FIELDS), value=odd_values, drop=st.booleans())
def test_every_field_of_bundle_json_is_checked_in_one_place(field, value, drop):
    meta = json.loads(json.dumps(GOOD_META))
    parent = meta
    for key in field[:-1]:
        parent = parent[key]
    if drop and isinstance(parent, dict):
        parent.pop(field[-1])
    else:
        parent[field[-1]] = value
    try:
        typed = parse_meta(meta, "bundle.json")
    except BundleError as exc:
        assert str(exc).startswith("bundle.json") and "\n" not in str(exc)
        return
    assert typed.window == typed.architecture.window >= 1
    assert len(typed.scale.std) == len(typed.channels) and min(typed.scale.std) > 0
    assert all(isinstance(c, str) and c for c in typed.channels)
    assert np.isfinite(typed.calibration.threshold) and typed.calibration.threshold > 0
    assert 1 <= typed.persistence.k <= typed.persistence.n <= MAX_N
    follow = typed.threshold_follow
    assert follow is None or (follow.lag + follow.rows <= MAX_SPAN and follow.median > 0
                              and np.isfinite(follow.median) and follow.calibrated_threshold > 0)


def test_the_good_metadata_passes():
    assert parse_meta(GOOD_META, "bundle.json").persistence.n == 2


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


def offline_commands():
    """The offline commands of both command lines."""
    from detector.cli import main as detector

    yield from (detector.commands[name] for name in ("train", "score", "evaluate", "info"))
    yield from (producer.commands[name] for name in ("simulate", "seed-data"))


def test_every_option_says_its_range_and_default_in_its_help():
    import click

    for command in offline_commands():
        for option in command.params:
            if not isinstance(option, click.Option) or option.is_flag or option.name == "help":
                continue
            assert option.help, (command.name, option.name)
            if option.default is not None and "UNSET" not in repr(option.default):
                assert option.show_default, (command.name, option.name)
            if option.type.name in ("integer", "float"):
                raise AssertionError(f"{command.name} {option.name}: a number without a range")

