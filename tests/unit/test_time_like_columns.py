"""Which columns `detector train` takes for channels: time-like columns (named like a time, or
rising by a steady step, per device) are set aside with their reason; readings never are."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.tables import choose_channels, named_like_time
from shared.wire import DataError


@given(start=st.floats(-1e9, 1e9), step=st.floats(1e-3, 1e4), n=st.integers(11, 500),
       devices=st.integers(1, 5))
@settings(max_examples=60, deadline=None)
def test_a_column_rising_by_a_steady_step_per_device_is_left_out(start, step, n, devices):
    rows = n * devices
    frame = pd.DataFrame({
        "device": [f"d{i % devices}" for i in range(rows)],
        "clock": start + step * (np.arange(rows) // devices),
        "reading": np.random.default_rng(n).normal(size=rows),
    })
    channels, aside = choose_channels(frame, None, "data.csv")
    assert channels == ["reading"]
    assert aside["clock"].startswith("time-like: rises by a steady")


@given(st.integers(0, 2**32 - 1), st.integers(11, 500))
@settings(max_examples=60, deadline=None)
def test_readings_are_never_taken_for_time(seed, n):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"walk": np.cumsum(rng.uniform(0.1, 2, n)),  # rises, unsteadily
                          "noise": rng.normal(size=n), "level": np.sin(np.arange(n) / 7)})
    assert choose_channels(frame, None, "data.csv") == (["walk", "noise", "level"], {})


@pytest.mark.parametrize(("name", "timelike"), [
    ("time_s", True), ("Timestamp (UTC)", True), ("event_ts", True), ("eventTime", True),
    ("date", True), ("epoch_ms", True), ("uptime", False), ("temperature", False),
    ("Volume Flow RateRMS", False), ("timer", False),
])
def test_names_like_a_time(name, timelike):
    assert named_like_time(name) is timelike


def test_named_columns_are_channels_whatever_they_look_like():
    frame = pd.DataFrame({"time_s": np.arange(20.0), "temp": np.random.default_rng(0).random(20)})
    assert choose_channels(frame, ["time_s", "temp"], "x") == (["time_s", "temp"], {})
    assert choose_channels(frame, None, "x")[0] == ["temp"]


def test_decimal_commas_are_named_as_the_reason():
    frame = pd.DataFrame({"temp": ["21,5", "21,7"], "p": ["1,01", "1,02"]})
    with pytest.raises(DataError, match="'temp', 'p' hold numbers with decimal commas"):
        choose_channels(frame, None, "x.csv")
    frame["ok"] = [1.0, 2.0]
    aside = choose_channels(frame, None, "x.csv")[1]
    assert aside["temp"] == "not numeric: decimal commas ('21,5')"
