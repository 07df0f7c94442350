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
from typing import Any

import click
from click.core import ParameterSource

from detector.errors import ConfigError
from shared.kafka_client import Connection, connection_from, security_options

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


def consumer_settings(batch_size: int, fetch_min_bytes: int = 1,
                      fetch_wait_ms: int = 500) -> dict[str, Any]:
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


def parse_channels(text: str | None) -> list[str] | None:
    """`--channels a,b,c` as a list."""
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


@click.command()
@option("model", required=True, type=click.Path(file_okay=False),
        help="The model bundle directory (reloaded when it changes).")
@option("bootstrap", default=DEFAULT_BOOTSTRAP, show_default=True,
        help="Kafka bootstrap servers, HOST:PORT[,HOST:PORT...].")
@security_options("DETECTOR")
@option("topic", default="readings", show_default=True, help="Topic of the readings.")
@option("group", default="detector", show_default=True, help="Consumer group id.")
@option("anomalies-topic", default="anomalies", show_default=True,
        help="Topic the anomaly events go to (detector watch reads it).")
@option("dlq-topic", default="readings.dlq", show_default=True, help="Dead-letter topic.")
@option("partitions", type=click.IntRange(min=1), default=6, show_default=True,
        help="Partitions of the readings and anomaly topics when they are created.")
@option("replication-factor", type=click.IntRange(min=1), default=1, show_default=True,
        help="Copies of each partition of the topics this command creates (at most the "
             "number of brokers); topics that exist are left as they are.")
@option("metrics-port", type=click.IntRange(0, 65535), default=8000, show_default=True,
        help="Port of /metrics, /healthz and /livez (0 picks a free one, logged).")
@option("metrics-host", default="0.0.0.0", show_default=True,
        help="Address of the HTTP endpoints: 0.0.0.0 for a container, 127.0.0.1 to keep "
             "them on this machine.")
@option("batch-size", type=click.IntRange(min=1), default=5000, show_default=True,
        help="Most records per poll, scored in one model call.")
@option("fetch-min-bytes", type=click.IntRange(min=1), default=1, show_default=True,
        help="Bytes the broker gathers before it answers a fetch (at most --fetch-wait-ms): "
             "above 1, fewer and larger polls, less CPU per reading at low rates, more lag.")
@option("fetch-wait-ms", type=click.IntRange(0, 30_000), default=500, show_default=True,
        help="Longest time the broker holds a fetch waiting for --fetch-min-bytes.")
@option("send-attempts", type=click.IntRange(min=1), default=6, show_default=True,
        help="Attempts to publish a batch's events before exiting with status 3.")
@option("reload-interval", type=click.FloatRange(min=0), default=2.0, show_default=True,
        help="Seconds between checks of the bundle directory (0 = no hot reload).")
@option("max-devices", type=click.IntRange(min=1), default=100_000, show_default=True,
        help="Devices whose recent readings are kept for windowed models and persistence; "
             "past it the device seen least recently starts afresh.")
@option("warmup-records", type=click.IntRange(min=0), default=100_000, show_default=True,
        help="Records per partition read back on assignment to rebuild each device's windows "
             "and persistence before scoring (0: start every device afresh).")
@option("channels", help="Channels the readings carry, comma-separated; the model must match.")
@option("max-poll-interval-ms", type=click.IntRange(min=1000), default=300_000,
        show_default=True,
        help="Longest time between polls before the group counts this member as gone.")
@option("score-delay-ms", type=click.FloatRange(min=0), default=0.0, hidden=True,
        help="Fault drills and tests only: extra milliseconds of scoring per reading (a slow "
             "model). Never set it in production.")
@option("offset-reset", type=click.Choice(["earliest", "latest"]), default="earliest",
        show_default=True, help="Where a new consumer group starts.")
@option("log-level", type=click.Choice(["debug", "info", "warning", "error"],
                                       case_sensitive=False), default="info", show_default=True,
        help="Log detail on stderr; debug also shows the Kafka client's own lines.")
def serve(**opts: Any) -> None:
    """Score readings from Kafka, publish anomaly events, serve /metrics and /healthz."""
    configure_logging(opts["log_level"])
    run_serve(opts, kafka_connection(opts))


def run_serve(o: dict, connection: Connection) -> None:
    """Start-up checks in order (port, model, broker), then the loop until a signal."""
    from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector

    from detector.stream.daemon import Daemon
    from detector.stream.http import HealthServer
    from detector.stream.kafka_clients import ensure_topics, open_sink, open_source
    from detector.stream.metrics import Metrics
    from detector.stream.reloader import Reloader, load_model
    from detector.stream.settings import Options, Topics

    if o["max_devices"] < o["batch_size"]:
        raise ConfigError(f"--max-devices ({o['max_devices']}) must be at least --batch-size "
                          f"({o['batch_size']}): a batch may hold that many devices")
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

    server = HealthServer(registry, readiness, o["metrics_host"], o["metrics_port"],
                          liveness=liveness)
    server.start()
    log.info("serving /metrics and /healthz on http://%s:%d", o["metrics_host"], server.port)
    model = load_model(o["model"], parse_channels(o["channels"]))
    log.info("model %s loaded from %s (channels %s, threshold %.6g)", model.version, o["model"],
             ", ".join(model.channels), model.scorer.threshold)
    topics = Topics(o["topic"], o["anomalies_topic"], o["dlq_topic"])
    ensure_topics(connection, BROKER_HINT, {topics.readings: o["partitions"],
                                            topics.anomalies: o["partitions"], topics.dlq: 1},
                  o["replication_factor"])
    client_id = f"detector-{socket.gethostname()}-{os.getpid()}"
    consumer = open_source(connection, BROKER_HINT, o["group"], client_id, o["offset_reset"],
                           consumer_settings(o["batch_size"], o["fetch_min_bytes"],
                                             o["fetch_wait_ms"]),
                           o["max_poll_interval_ms"])
    producer = open_sink(connection, BROKER_HINT, client_id)
    options = Options(max_records=o["batch_size"], send_attempts=o["send_attempts"],
                      score_delay=o["score_delay_ms"] / 1000,
                      max_poll_interval=o["max_poll_interval_ms"] / 1000,
                      max_devices=o["max_devices"], warmup_records=o["warmup_records"])
    daemon = Daemon(consumer, producer, model, metrics, topics, options)
    if o["reload_interval"] > 0:
        def reloaded(result: str, message: str) -> None:
            metrics.reloads.labels(result=result).inc()

        daemon.reloader = Reloader(o["model"], model, reloaded, o["reload_interval"])
        daemon.reloader.start()
    holder["daemon"] = daemon
    install_signals(daemon.stop)
    collect_rarely()
    log.info("consuming %s as group %s from %s (%s)", topics.readings, o["group"],
             connection.bootstrap, connection.security.protocol)
    try:
        daemon.run()
    finally:
        server.stop()
    log.info("stopped cleanly: %d readings scored, %d records dead-lettered, offsets committed",
             daemon.scored, daemon.rejected)


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
