"""`detector serve`: the streaming daemon, wired from its options.

Every `serve` option can also come from an environment variable DETECTOR_<OPTION>, e.g.
DETECTOR_MODEL, DETECTOR_BOOTSTRAP, DETECTOR_METRICS_PORT. Heavy imports (TensorFlow, Kafka) wait
until a command runs, so `detector --help` stays quick.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

import click
from click.core import ParameterSource

from detector.stream.serve_settings import LogLevel, ServeSettings
from shared.kafka_client import Connection, connection_from, security_options
from shared.kafka_confluent import KafkaClient
from shared.settings_options import with_settings

log = logging.getLogger("detector.serve")
MIB = 1024 * 1024
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
BROKER_HINT = "start it (deploy/local/stack up kafka) or fix --bootstrap / DETECTOR_BOOTSTRAP"


def env(name: str) -> str:
    """The environment variable of an option."""
    return f"DETECTOR_{name.upper().replace('-', '_')}"


def option(name: str, **kwargs: Any) -> Any:
    """A click option that can also come from DETECTOR_<NAME>."""
    return click.option(f"--{name}", envvar=env(name), show_envvar=True, **kwargs)


def configure_logging(level: str) -> None:
    """One line per message on stderr; the Kafka client only says errors unless DEBUG."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if level.upper() != "DEBUG":
        logging.getLogger("kafka").setLevel(logging.CRITICAL)


def kafka_connection(opts: dict[str, Any]) -> Connection:
    """Where the broker is and how to talk to it, from the options (--bootstrap given wins over
    a properties file's bootstrap.servers, which wins over the default)."""
    given = click.get_current_context().get_parameter_source("bootstrap")
    bootstrap = opts["bootstrap"] if given is not ParameterSource.DEFAULT else None
    return connection_from(opts, "DETECTOR", bootstrap, default=DEFAULT_BOOTSTRAP)


def consumer_settings(batch_size: int, fetch_min_bytes: int = ServeSettings.fetch_min_bytes,
                      fetch_wait_ms: int = ServeSettings.fetch_wait_ms) -> dict[str, Any]:
    """The consumer's fetch settings (the benchmarks give their bare consumers the same).

    With the defaults the broker answers a fetch as soon as it has one record, the lowest lag;
    a larger `fetch_min_bytes` holds a fetch up to `fetch_wait_ms` so that fewer, larger polls
    carry the same readings (less CPU per reading at low rates, more lag: docs/performance.md).
    """
    return {"max_poll_records": batch_size, "max_partition_fetch_bytes": 8 * MIB,
            "fetch_min_bytes": fetch_min_bytes, "fetch_max_wait_ms": fetch_wait_ms}


def collect_rarely(threshold: int = 50_000) -> None:
    """Fewer and smaller garbage collections for the serve loop (a fifth of its CPU before).

    A batch makes about ten containers per reading (records, parsed JSON), nearly all freed by
    reference counting, yet every 700 of them set off a collection that scanned the batch in
    flight. Collections now wait for `threshold` surviving containers, and the objects of
    start-up (modules, the model) are frozen out of every scan. Cycles are still collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold)


def daemon_options(settings: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options of a long-running command (serve, retrain): the broker's address and security,
    then every field of `settings`, each also from DETECTOR_<OPTION>."""
    decorators = (
        with_settings(settings, env_prefix="DETECTOR", types={
            "model": click.Path(file_okay=False),
            "log_level": click.Choice([level.value for level in LogLevel], case_sensitive=False)}),
        security_options("DETECTOR"),
        option("bootstrap", default=DEFAULT_BOOTSTRAP, show_default=True,
               help="Kafka bootstrap servers, HOST:PORT[,HOST:PORT...]."))

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in decorators:  # innermost first, as stacked decorators apply
            command = decorator(command)
        return command
    return decorate


@click.command()
@daemon_options(ServeSettings)
def serve(settings: ServeSettings, **kafka: Any) -> None:
    """Score readings from Kafka, publish anomaly events, serve /metrics and /healthz."""
    configure_logging(settings.log_level)
    run_serve(settings, kafka_connection(kafka))


def run_serve(settings: ServeSettings, connection: Connection) -> None:
    """Start-up checks in order (port, model, broker), then the loop until a signal."""
    from detector.stream.daemon import Daemon

    metrics, server, holder = start_http(settings)
    model = load_served_model(settings)
    topics = settings.topics()
    consumer, producer = open_clients(settings, connection)
    follower = None
    if settings.model_topic:
        model, follower = follow_model_topic(settings, connection, model, metrics)
    daemon = Daemon(consumer, producer, model, metrics, topics, settings.options())
    if follower is not None:
        daemon.reloader = follower
        follower.start()
    elif settings.reload_interval > 0:
        start_reloader(daemon, model, settings, metrics)
    holder["daemon"] = daemon
    metrics.model_age.set_function(lambda: time.time() - daemon.model.born)
    install_signals(daemon.stop)
    collect_rarely()
    log.info("consuming %s as group %s from %s (%s, %s)", topics.readings, settings.group,
             connection.bootstrap, connection.security.protocol, settings.kafka_client)
    try:
        daemon.run()
    finally:
        server.stop()
    log.info("stopped cleanly: %d readings scored, %d records dead-lettered, offsets committed",
             daemon.scored, daemon.rejected)


def start_http(settings: ServeSettings) -> tuple[Any, Any, dict[str, Any]]:
    """The metrics (in a registry of their own) and the HTTP endpoints, started; the holder the
    endpoints ask for the daemon once it exists ("starting" until then)."""
    from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector

    from detector.stream.http import HealthServer
    from detector.stream.metrics import Metrics

    registry = CollectorRegistry()
    ProcessCollector(registry=registry)  # process_cpu_seconds_total, process_resident_memory_bytes
    PlatformCollector(registry=registry)
    metrics = Metrics(registry)
    holder: dict[str, Any] = {}

    def readiness() -> tuple[bool, dict]:
        daemon = holder.get("daemon")
        return daemon.readiness() if daemon else (False, {"state": "starting"})

    def liveness() -> tuple[bool, dict]:
        daemon = holder.get("daemon")
        return daemon.liveness() if daemon else (True, {"state": "starting"})

    server = HealthServer(registry, readiness, settings.metrics_host, settings.metrics_port,
                          liveness=liveness)
    server.start()
    log.info("serving /metrics and /healthz on http://%s:%d", settings.metrics_host, server.port)
    return metrics, server, holder


def load_served_model(settings: ServeSettings) -> Any:
    """The bundle to serve, checked against `--channels`."""
    from detector.stream.reloader import load_model

    model = load_model(settings.model, settings.channel_list)
    log.info("model %s loaded from %s (channels %s, threshold %.6g)", model.version,
             settings.model, ", ".join(model.channels), model.scorer.threshold)
    return model


def open_clients(settings: ServeSettings, connection: Connection) -> tuple[Any, Any]:
    """The topics made sure of, then the group member and the producer."""
    from detector.brokers.kafka_clients import ensure_topics
    from detector.brokers.kafka_models import ensure_model_topic

    if settings.kafka_client is KafkaClient.CONFLUENT:
        from detector.brokers.confluent_clients import open_sink, open_source
    else:
        from detector.brokers.kafka_clients import open_sink, open_source  # type: ignore[assignment]

    topics = settings.topics()
    ensure_topics(connection, BROKER_HINT, {topics.readings: settings.partitions,
                                            topics.anomalies: settings.partitions, topics.dlq: 1},
                  settings.replication_factor)
    if settings.model_topic:
        ensure_model_topic(connection, BROKER_HINT, settings.model_topic,
                           settings.replication_factor)
    client_id = f"detector-{socket.gethostname()}-{os.getpid()}"
    fetch = consumer_settings(settings.batch_size, settings.fetch_min_bytes,
                              settings.fetch_wait_ms)
    consumer = open_source(connection, BROKER_HINT, settings.group, client_id,
                           settings.offset_reset, fetch, settings.max_poll_interval_ms)
    return consumer, open_sink(connection, BROKER_HINT, client_id)


def follow_model_topic(settings: ServeSettings, connection: Connection, model: Any,
                       metrics: Any) -> tuple[Any, Any]:
    """The model topic's follower, read to its end: (the model to serve first, the follower)."""
    from detector.brokers.kafka_models import ModelTopicReader
    from detector.stream.follower import ModelFollower

    def reloaded(result: str, message: str) -> None:
        metrics.reloads.labels(result=result).inc()

    topic = str(settings.model_topic)
    reader = ModelTopicReader(connection, BROKER_HINT, topic,
                              f"detector-models-{socket.gethostname()}-{os.getpid()}")
    follower = ModelFollower(reader, topic, model, reloaded)
    newest = follower.catch_up()
    if newest is not None:
        log.info("serving bundle %s from the model topic %s (not %s's %s)", newest.version,
                 topic, settings.model, model.version)
    return newest or model, follower


def start_reloader(daemon: Any, model: Any, settings: ServeSettings, metrics: Any) -> None:
    """Hot reload: the bundle directory checked every `reload_interval` seconds, counted."""
    from detector.stream.reloader import Reloader

    def reloaded(result: str, message: str) -> None:
        metrics.reloads.labels(result=result).inc()

    daemon.reloader = Reloader(settings.model, model, reloaded, settings.reload_interval)
    daemon.reloader.start()


def install_signals(stop: Any) -> None:
    """SIGTERM and SIGINT ask the loop to stop; a second one ends the process at once."""

    def handle(signum: int, frame: object) -> None:
        if getattr(handle, "seen", False):
            os._exit(128 + signum)
        handle.seen = True  # type: ignore[attr-defined]
        log.info("%s: finishing the batch, committing, closing", signal.Signals(signum).name)
        stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
