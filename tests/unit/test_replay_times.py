"""`producer replay --time-column`: a CSV's own times become the readings' ts; bad times stop
the command with one line before anything is sent; the simulator's drift is seeded and slow."""

import numpy as np
import pytest
from click.testing import CliRunner

from producer.cli import main as producer
from producer.replay import csv_readings
from producer.signal import NOISE, clean_values, level_at
from producer.simulator import Simulator


def write(tmp_path, text: str):
    path = tmp_path / "data.csv"
    path.write_text(text)
    return str(path)


def test_datetimes_without_a_zone_are_utc_seconds(tmp_path):
    path = write(tmp_path, "datetime;a;b\n2020-02-08 13:30:47;1;2\n2020-02-08 13:30:48;3;4\n")
    rows = list(csv_readings(path, "rig", "datetime"))
    assert [r[4] for r in rows] == [1581168647.0, 1581168648.0]
    assert rows[0][:4] == ("rig", 0, {"a": 1.0, "b": 2.0}, None)


def test_iso_times_with_a_zone_and_plain_unix_seconds(tmp_path):
    iso = write(tmp_path, "ts,a\n2020-02-08T14:30:47+01:00,1\n")
    assert [r[4] for r in csv_readings(iso, "d", "ts")] == [1581168647.0]
    numbers = write(tmp_path, "t,a\n1700000000.5,1\n1700000001,2\n")
    assert [r[4] for r in csv_readings(numbers, "d", "t")] == [1700000000.5, 1700000001.0]


def test_without_the_option_ts_is_left_to_the_time_of_sending(tmp_path):
    path = write(tmp_path, "datetime,a\n2020-02-08 13:30:47,1\n")
    assert [r[4] for r in csv_readings(path, "d")] == [None]


@pytest.mark.parametrize(("text", "column", "says"), [
    ("datetime,a\n2020-02-08 13:30:47,1\nyesterday,2\n", "datetime", "row 2: 'yesterday'"),
    ("t,a\n1,1\n-5,2\n", "t", "row 2"),
    ("t,a\n1,1\n1e300,2\n", "t", "row 2"),
    ("datetime,a\n2020-02-08 13:30:47,1\n", "when", "no time column 'when'"),
])
def test_a_bad_time_is_one_line_and_exit_2_before_any_send(tmp_path, text, column, says):
    path = write(tmp_path, text)
    # an address nothing listens on: the error must come before any attempt to connect
    result = CliRunner().invoke(producer, ["replay", path, "--time-column", column,
                                           "--bootstrap", "127.0.0.1:1", "--metrics-port", "0"])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and says in lines[0], lines[0]


def test_drift_raises_every_channel_by_its_rate_per_thousand_readings():
    plain = Simulator(devices=2, seed=5).block(4000)
    moved = Simulator(devices=2, seed=5, drift=2.0).block(4000)
    offset = moved.values - plain.values
    assert np.allclose(offset, (2.0 / 1000) * plain.seq[:, None])
    assert moved.label == plain.label and set(moved.label) == {"normal"}


def test_drift_is_the_same_for_the_same_seed_and_leaves_the_normal_band():
    a = Simulator(devices=1, seed=9, drift=1.0).block(6000).values
    b = Simulator(devices=1, seed=9, drift=1.0).block(6000).values
    assert np.array_equal(a, b)
    sim = Simulator(devices=1, seed=9, drift=1.0)
    values = sim.block(6000).values
    residual = values - clean_values(level_at(np.arange(6000), sim.devices[0].phase))
    assert np.abs(residual[:1000]).max() <= NOISE + 1.0
    assert residual[-1000:].min() > 5.0 - NOISE  # six units up by the end, every channel


def test_simulate_refuses_a_drift_that_is_not_a_finite_number(tmp_path):
    result = CliRunner().invoke(producer, ["simulate", "--output", str(tmp_path / "x.csv"),
                                           "--count", "10", "--drift", "nan"])
    assert result.exit_code == 2 and "--drift" in result.output
    assert not (tmp_path / "x.csv").exists()
