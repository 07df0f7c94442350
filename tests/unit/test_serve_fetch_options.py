"""`detector serve --fetch-min-bytes/--fetch-wait-ms`: given to the consumer, bad ones refused."""

from __future__ import annotations

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka import KafkaConsumer

from detector.brokers.confluent_clients import fetch_config
from detector.cli import main
from detector.cli.serve import consumer_settings, serve
from detector.stream.serve_settings import ServeSettings


def test_the_defaults_are_kafkas_lowest_lag_fetch():
    fetch = consumer_settings(5000)
    assert fetch["fetch_min_bytes"] == KafkaConsumer.DEFAULT_CONFIG["fetch_min_bytes"] == 1
    assert fetch["fetch_max_wait_ms"] == KafkaConsumer.DEFAULT_CONFIG["fetch_max_wait_ms"]
    assert fetch["max_poll_records"] == 5000


def test_the_fetch_options_reach_the_consumer_settings():
    fetch = consumer_settings(100, fetch_min_bytes=65536, fetch_wait_ms=50)
    assert (fetch["fetch_min_bytes"], fetch["fetch_max_wait_ms"]) == (65536, 50)
    assert set(fetch) <= set(KafkaConsumer.DEFAULT_CONFIG), "a key the consumer does not take"


def fetch_of(*args: str) -> tuple[int, int]:
    """(fetch_min_bytes, fetch_wait_ms) serve gives its consumer for these options."""
    return ServeSettings.from_click(**serve.make_context("serve", ["--model", "m", *args]).params
                                    ).fetch()


def test_librdkafka_holds_a_fetch_for_some_readings_by_default_kafka_python_does_not():
    assert fetch_of() == (1, 500)  # kafka-python: an answer as soon as one record is there
    held = fetch_of("--kafka-client", "confluent")
    assert held == (12000, 40)
    assert fetch_config(consumer_settings(5000, *held)) == {
        "max.partition.fetch.bytes": 8 * 1024 * 1024, "fetch.min.bytes": 12000,
        "fetch.wait.max.ms": 40}


def test_a_fetch_setting_given_wins_over_the_client_s_default(monkeypatch):
    monkeypatch.setenv("DETECTOR_KAFKA_CLIENT", "confluent")
    assert fetch_of("--fetch-min-bytes", "1") == (1, 40)
    assert fetch_of("--fetch-wait-ms", "0") == (12000, 0)
    monkeypatch.setenv("DETECTOR_FETCH_WAIT_MS", "500")
    assert fetch_of("--fetch-min-bytes", "1") == (1, 500)


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
