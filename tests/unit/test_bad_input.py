"""Bad input data, without TensorFlow: CSVs and label columns each load whole and sound or end in
a one-line error naming the reason, never a traceback."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from detector.errors import DataError
from detector.offline.evaluate import truth_of
from detector.stream.decode import FLOAT32_MAX
from shared.tables import load_table
from shared.wire import ANOMALY_WORDS, NORMAL_WORDS
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
