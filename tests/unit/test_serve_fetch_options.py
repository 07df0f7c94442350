"""`detector serve --fetch-min-bytes/--fetch-wait-ms`: given to the consumer, bad ones refused."""

from __future__ import annotations

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka import KafkaConsumer

from detector.cli import main
from detector.cli.serve import consumer_settings


def test_the_defaults_are_kafkas_lowest_lag_fetch():
    fetch = consumer_settings(5000)
    assert fetch["fetch_min_bytes"] == KafkaConsumer.DEFAULT_CONFIG["fetch_min_bytes"] == 1
    assert fetch["fetch_max_wait_ms"] == KafkaConsumer.DEFAULT_CONFIG["fetch_max_wait_ms"]
    assert fetch["max_poll_records"] == 5000


def test_the_fetch_options_reach_the_consumer_settings():
    fetch = consumer_settings(100, fetch_min_bytes=65536, fetch_wait_ms=50)
    assert (fetch["fetch_min_bytes"], fetch["fetch_max_wait_ms"]) == (65536, 50)
    assert set(fetch) <= set(KafkaConsumer.DEFAULT_CONFIG), "a key the consumer does not take"


@settings(max_examples=25, deadline=None)
@given(option=st.sampled_from(["--fetch-min-bytes", "--fetch-wait-ms"]),
       value=st.one_of(st.integers(max_value=-1), st.integers(min_value=30_001),
                       st.text(alphabet="abcx.,-", min_size=1, max_size=6)))
def test_a_bad_fetch_setting_stops_serve_with_status_2_naming_it(option, value):
    if option == "--fetch-min-bytes" and isinstance(value, int) and value > 0:
        value = 0  # any positive byte count is allowed: refuse 0 instead
    result = CliRunner().invoke(main, ["serve", "--model", "no-such-bundle", option, str(value)])
    assert result.exit_code == 2
    assert option in result.output
