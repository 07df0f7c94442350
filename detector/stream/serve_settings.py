"""What `detector serve` is told: every option but the broker's address and security, typed, each
default written once (the loop's own defaults are `Options` and `Topics`).

Each field is also read from DETECTOR_<FIELD> (the command line builds its options from them).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from detector.core.choices import OffsetReset
from detector.core.windows import MAX_DEVICES
from detector.errors import ConfigError
from detector.stream.settings import Options, Topics
from shared.kafka_confluent import KafkaClient
from shared.settings import Meta, Settings, setting

Count = Annotated[int, Meta(ge=1)]
Port = Annotated[int, Meta(ge=0, le=65535)]
MIN_SESSION_TIMEOUT_MS = 6000  # the broker's group.min.session.timeout.ms, by default


class LogLevel(StrEnum):
    """How much `serve` logs on stderr."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


def http_port() -> Any:
    """The settings field of the HTTP endpoints' port (serve's and retrain's)."""
    return setting(8000, help="Port of /metrics, /healthz and /livez (0 picks a free one, logged).")


def http_host() -> Any:
    """The settings field of the HTTP endpoints' address (serve's and retrain's)."""
    return setting("0.0.0.0", help="Address of the HTTP endpoints: 0.0.0.0 for a container, "
                   "127.0.0.1 to keep them on this machine.")


@dataclass(frozen=True)
class ServeSettings(Settings):
    """The model, topics, group, HTTP endpoints and tunables of one `detector serve`."""

    label = "serve settings"

    model: str = setting(help="The model bundle directory (reloaded when it changes; with "
                         "--model-topic the model served until the topic holds one).")
    model_topic: str | None = setting(
        None, help="Follow promoted bundles on this compacted Kafka topic (e.g. models) instead "
        "of watching --model: the newest at start, each new one hot-swapped.")
    topic: str = setting(Topics.readings, help="Topic of the readings.")
    group: str = setting("detector", help="Consumer group id.")
    anomalies_topic: str = setting(
        Topics.anomalies, help="Topic the anomaly events go to (detector watch reads it).")
    dlq_topic: str = setting(Topics.dlq, help="Dead-letter topic.")
    partitions: Count = setting(
        6, help="Partitions of the readings and anomaly topics when they are created.")
    replication_factor: Count = setting(
        1, help="Copies of each partition of the topics this command creates (at most the "
        "number of brokers); topics that exist are left as they are.")
    metrics_port: Port = http_port()
    metrics_host: str = http_host()
    batch_size: Count = setting(
        Options.max_records, help="Most records per poll, scored in one model call.")
    fetch_min_bytes: Count = setting(
        1, help="Bytes the broker gathers before it answers a fetch (at most --fetch-wait-ms): "
        "above 1, fewer and larger polls, less CPU per reading at low rates, more lag.")
    fetch_wait_ms: Annotated[int, Meta(ge=0, le=30_000)] = setting(
        500, help="Longest time the broker holds a fetch waiting for --fetch-min-bytes.")
    send_attempts: Count = setting(
        Options.send_attempts,
        help="Attempts to publish a batch's events before exiting with status 3.")
    reload_interval: Annotated[float, Meta(ge=0)] = setting(
        2.0, help="Seconds between checks of the bundle directory (0 = no hot reload).")
    max_devices: Count = setting(
        MAX_DEVICES, help="Devices whose recent readings are kept for windowed models and "
        "persistence; past it the device seen least recently starts afresh.")
    warmup_records: Annotated[int, Meta(ge=0)] = setting(
        Options.warmup_records, help="Records per partition read back on assignment to rebuild "
        "each device's windows and persistence before scoring (0: start every device afresh).")
    channels: str | None = setting(
        None, help="Channels the readings carry, comma-separated; the model must match.")
    max_poll_interval_ms: Annotated[int, Meta(ge=1000)] = setting(
        round(Options.max_poll_interval * 1000),
        help="Longest time between polls before the group counts this member as gone.")
    score_delay_ms: Annotated[float, Meta(ge=0)] = setting(
        0.0, hidden=True, show_default=False, help="Fault drills and tests only: extra "
        "milliseconds of scoring per reading (a slow model). Never set it in production.")
    offset_reset: OffsetReset = setting(
        OffsetReset.EARLIEST, help="Where a new consumer group starts.")
    kafka_client: KafkaClient = setting(
        KafkaClient.KAFKA_PYTHON, help="The Kafka client library: kafka-python, or confluent "
        "(librdkafka: less CPU per reading; docs/operations.md says when to switch).")
    log_level: LogLevel = setting(
        LogLevel.INFO, help="Log detail on stderr; debug also shows the Kafka client's own lines.")

    def __post_init__(self) -> None:
        self.check_ranges()
        if (self.kafka_client is KafkaClient.CONFLUENT
                and self.max_poll_interval_ms < MIN_SESSION_TIMEOUT_MS):
            raise ConfigError(f"--kafka-client confluent needs --max-poll-interval-ms of at least "
                              f"{MIN_SESSION_TIMEOUT_MS} (librdkafka holds it to the session "
                              "timeout, which the broker holds to 6 s); got "
                              f"{self.max_poll_interval_ms}")
        if self.max_devices < self.batch_size:
            raise ConfigError(f"--max-devices ({self.max_devices}) must be at least --batch-size "
                              f"({self.batch_size}): a batch may hold that many devices")

    @property
    def channel_list(self) -> list[str] | None:
        """`--channels a,b,c` as a list (None: the model's)."""
        names = [c.strip() for c in (self.channels or "").split(",") if c.strip()]
        return names or None

    def topics(self) -> Topics:
        """The topics the loop reads and writes."""
        return Topics(self.topic, self.anomalies_topic, self.dlq_topic)

    def options(self) -> Options:
        """The loop's tunables (the rest keep `Options`' defaults)."""
        return Options(max_records=self.batch_size, send_attempts=self.send_attempts,
                       score_delay=self.score_delay_ms / 1000,
                       max_poll_interval=self.max_poll_interval_ms / 1000,
                       max_devices=self.max_devices, warmup_records=self.warmup_records)
