"""`detector retrain`: the live retrainer, wired from its settings (each also DETECTOR_<OPTION>).

Start-up checks in order, each a one-line exit 2: the metrics port, the model directory's bundle
(and the training settings it records), the retrain window against the rows a challenger needs,
the broker and the model topic.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from detector.cli.serve import (
    BROKER_HINT,
    configure_logging,
    daemon_options,
    install_signals,
    kafka_connection,
)
from detector.errors import ConfigError
from detector.retrain.settings import RetrainSettings
from shared.kafka_client import Connection

log = logging.getLogger("detector.retrain")


@click.command()
@daemon_options(RetrainSettings)
def retrain(settings: RetrainSettings, **kafka: Any) -> None:
    """Retrain from the stream: a challenger every N readings, promoted through the gate."""
    configure_logging(settings.log_level)
    run_retrain(settings, kafka_connection(kafka))


def run_retrain(settings: RetrainSettings, connection: Connection) -> None:
    """Start-up checks in order, then the loop until a signal. The whole retrainer yields the
    CPU to the detectors (its readings can wait); its child trains lower still."""
    from prometheus_client import CollectorRegistry

    from detector.retrain.challenger import NICE
    from detector.retrain.metrics import RetrainMetrics
    from detector.stream.http import HealthServer

    registry = CollectorRegistry()
    metrics = RetrainMetrics(registry)
    holder: dict[str, Any] = {}

    def readiness() -> tuple[bool, dict]:
        retrainer = holder.get("retrainer")
        if retrainer is None:
            return False, {"state": "starting"}
        return True, retrainer.health()

    server = HealthServer(registry, readiness, settings.metrics_host, settings.metrics_port)
    server.start()
    log.info("serving /metrics and /healthz on http://%s:%d", settings.metrics_host, server.port)
    model = Path(settings.model)
    champion = checked_champion(model, settings.retrain_window)
    metrics.model_age.set_function(lambda: time.time() - (model / "bundle.json").stat().st_mtime)
    with tempfile.TemporaryDirectory(prefix="detector-retrain-") as work:
        retrainer = build(settings, connection, champion, metrics, Path(work))
        holder["retrainer"] = retrainer
        install_signals(retrainer.stop)
        os.nice(NICE)  # after the start-up checks: the loop and its child yield to scoring
        log.info("retraining %s every %d readings per device on the newest %d (group %s, "
                 "topic %s)", model, settings.retrain_every, settings.retrain_window,
                 settings.group, settings.topic)
        try:
            retrainer.run()
        finally:
            server.stop()
    log.info("stopped cleanly after %d retrain cycle(s)", retrainer.cycles)


def checked_champion(model: Path, window: int) -> Any:
    """The bundle in `model`, which must record its training settings and train in a window of
    `window` readings per device besides the gate's newest sixth."""
    from detector.core.bundle import load_bundle
    from detector.offline.data_checks import need_rows
    from detector.offline.recipe import settings_of

    champion = load_bundle(model)
    settings = settings_of(champion)
    if settings is None:
        raise ConfigError(f"{model} records no training settings (trained before bundles "
                          "recorded them): train it again once with `detector train`")
    need = need_rows(champion.window, settings.holdout)
    if window - max(1, window // 6) < need:
        raise ConfigError(f"--retrain-window {window} is too short to train a challenger like "
                          f"{model}: it needs {need} readings per device besides the newest "
                          f"sixth; give at least {need + need // 5 + 2}")
    return champion


def build(settings: RetrainSettings, connection: Connection, champion: Any, metrics: Any,
          work: Path) -> Any:
    """The retrainer and its collaborators: group members (readings, the replicas' anomaly
    events), child process, store, model topic."""
    from detector.brokers.kafka_clients import open_source
    from detector.lifecycle.memory import Memory
    from detector.lifecycle.store import ModelStore
    from detector.retrain.challenger import abandon, pool, submit
    from detector.retrain.daemon import Actions, Events, Retrainer
    from detector.retrain.held import HeldReadings

    publish = None
    if settings.model_topic:
        from detector.brokers.kafka_models import ModelTopicWriter

        publish = ModelTopicWriter(connection, BROKER_HINT, settings.model_topic,
                                   settings.replication_factor).publish
    client_id = f"detector-retrain-{socket.gethostname()}-{os.getpid()}"
    consumer = open_source(connection, BROKER_HINT, settings.group, client_id,
                           settings.offset_reset, {"max_poll_records": 5000}, 300_000)
    events = None
    if settings.anomalies_topic:
        events = Events(open_source(connection, BROKER_HINT, f"{settings.group}.anomalies",
                                    f"{client_id}-anomalies", settings.offset_reset,
                                    {"max_poll_records": 5000}, 300_000),
                        settings.anomalies_topic)
    executor = pool()
    store = ModelStore(settings.model)
    held = HeldReadings(settings.retrain_window, len(champion.channels), settings.max_devices)
    actions = Actions(lambda job: submit(executor, job), store.promote, publish,
                      lambda: abandon(executor))
    memory = Memory(settings.retrain_memory, settings.max_devices)
    return Retrainer(consumer, settings.topic, Path(settings.model), champion.channels, held,
                     settings.retrain_every, actions, metrics, work, events, memory)
