"""What `detector retrain` is told: every option but the broker's address and security, typed,
each default written once (the policy's are the backtest's: the live policy is the one tried
offline). Each field is also read from DETECTOR_<FIELD>."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from detector.core.choices import OffsetReset
from detector.lifecycle.backtest import RETRAIN_EVERY, RETRAIN_WINDOW
from detector.lifecycle.memory import RETRAIN_MEMORY
from detector.stream.serve_settings import LogLevel, Port, http_host, http_port
from shared.settings import Meta, Settings, setting

Count = Annotated[int, Meta(ge=1)]


@dataclass(frozen=True)
class RetrainSettings(Settings):
    """The model directory, topics, group, policy and HTTP endpoint of one `detector retrain`."""

    label = "retrain settings"

    model: str = setting(help="The model directory the replicas serve; promoted bundles are "
                         "written into it (its history kept in DIR/history).")
    topic: str = setting("readings", help="Topic of the readings.")
    anomalies_topic: str = setting(
        "anomalies", help="Topic of the serving replicas' anomaly events: the readings they "
        "flagged are incidents to the cleaning rule (read in the group GROUP.anomalies; empty: "
        "only the retrainer's own scoring).")
    group: str = setting("detector-retrainer", help="The retrainer's own consumer group (one "
                         "retrainer per serving group).")
    retrain_every: Count = setting(
        RETRAIN_EVERY, help="Readings per device between retrain cycles.")
    retrain_window: Annotated[int, Meta(ge=2)] = setting(
        RETRAIN_WINDOW, help="Newest readings per device a cycle trains and judges on.")
    retrain_memory: Annotated[int, Meta(ge=0)] = setting(
        RETRAIN_MEMORY, help="Older kept readings per device remembered beside the window and "
        "trained on too (0: none).")
    max_devices: Count = setting(
        1000, help="Devices whose readings are held; past it the one seen least recently goes.")
    model_topic: str | None = setting(
        None, help="Also publish each promoted bundle to this compacted topic (replicas follow "
        "it with serve --model-topic).")
    replication_factor: Count = setting(1, help="Of the model topic when it is created.")
    metrics_port: Port = http_port()
    metrics_host: str = http_host()
    offset_reset: OffsetReset = setting(
        OffsetReset.LATEST, help="Where a new retrainer group starts.")
    log_level: LogLevel = setting(LogLevel.INFO, help="Log detail on stderr.")

    def __post_init__(self) -> None:
        self.check_ranges()
