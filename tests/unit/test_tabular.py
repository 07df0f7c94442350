"""CSV rules: separators, columns kept aside, and one-line errors for bad cells."""

import numpy as np
import pytest

from detector.errors import DataError
from shared.tables import load_table


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_semicolons_time_and_label_columns_are_handled(tmp_path):
    path = write(
        tmp_path, "datetime;a;b;anomaly;changepoint\n2020-01-01;1.5;2;0;0\n2020-01-02;3;4;1;0\n"
    )
    table = load_table(path)
    assert table.channels == ["a", "b"]
    assert table.time_column == "datetime"
    assert table.label_column() == "anomaly"
    assert np.array_equal(table.values, [[1.5, 2], [3, 4]])


def test_device_and_seq_are_not_channels(tmp_path):
    path = write(tmp_path, "ts,device,seq,x,label\n1,d1,0,5,normal\n2,d2,0,6,spike\n")
    table = load_table(path)
    assert table.channels == ["x"]
    assert table.devices.tolist() == ["d1", "d2"]


def test_columns_option_picks_and_orders_channels(tmp_path):
    path = write(tmp_path, "a,b,c\n1,2,3\n")
    assert load_table(path, ["c", "a"]).values.tolist() == [[3, 1]]
    with pytest.raises(DataError, match="no column zz"):
        load_table(path, ["zz"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2\n3,\n", r"channel 'b' has 1 empty, NaN or infinite cells \(first at row 2\)"),
        ("a,b\n1,2\n3,NaN\n", "channel 'b' has 1 empty, NaN or infinite"),
        ("a,b\n1,2\n3,oops\n", r"channel 'b' is not numeric \(row 2: 'oops'\)"),
        ("ts,anomaly,label\n1,0,normal\n", "no channel columns left"),
        ("a,b\n", "no rows"),
    ],
)
def test_bad_cells_give_one_line_errors(tmp_path, text, message):
    with pytest.raises(DataError, match=message) as caught:
        load_table(write(tmp_path, text))
    assert "\n" not in str(caught.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_table(tmp_path / "nope.csv")
