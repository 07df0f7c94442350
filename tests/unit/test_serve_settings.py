"""`detector serve`'s settings: one typed value, each default once, from options or DETECTOR_*."""

from __future__ import annotations

import pytest

from detector.cli.serve import serve
from detector.core.choices import OffsetReset
from detector.errors import ConfigError
from detector.stream.serve_settings import LogLevel, ServeSettings
from detector.stream.settings import Options, Topics


def test_the_loop_s_defaults_are_the_command_s_defaults():
    settings = ServeSettings(model="m")
    assert settings.options() == Options()
    assert settings.topics() == Topics()


def test_options_and_environment_arrive_typed(monkeypatch):
    monkeypatch.setenv("DETECTOR_OFFSET_RESET", "latest")
    monkeypatch.setenv("DETECTOR_MAX_POLL_INTERVAL_MS", "60000")
    params = serve.make_context("serve", ["--model", "m", "--log-level", "DEBUG"]).params
    settings = ServeSettings.from_click(**params)
    assert settings.offset_reset is OffsetReset.LATEST and settings.log_level is LogLevel.DEBUG
    assert settings.options().max_poll_interval == 60.0 and settings.model == "m"


def test_fewer_devices_than_a_batch_is_refused():
    with pytest.raises(ConfigError, match="--max-devices"):
        ServeSettings(model="m", max_devices=10, batch_size=100)
    with pytest.raises(Exception, match="--metrics-port must be <= 65535"):
        ServeSettings(model="m", metrics_port=70000)


def test_channels_as_a_list():
    assert ServeSettings(model="m", channels=" a, b ,,c").channel_list == ["a", "b", "c"]
    assert ServeSettings(model="m").channel_list is None
