"""The `producer` command line: simulate readings, or replay a CSV, into Kafka or a CSV file."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

import click
from prometheus_client import CollectorRegistry, Counter, start_http_server

from producer.settings import SimulationSettings
from producer.simulator import Simulator
from producer.sinks import ConfluentSink, CsvSink, KafkaSink, Pacer, Sink
from shared.command_line import SEED, FiniteRange, OneLineErrors, version
from shared.kafka_client import Connection, connect, connection_from
from shared.kafka_client import security_options as kafka_security
from shared.kafka_confluent import KafkaClient, kafka_client_option, open_client
from shared.outputs import check_file
from shared.settings_options import with_settings
from shared.wire import LABELS

PROGRESS_EVERY = 5.0  # seconds between progress lines
MAX_SEED_ROWS = 1_000_000
PORT = click.IntRange(0, 65535)


def fail(message: str) -> None:
    """One line on stderr, exit status 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


BROKER_HINT = "is the broker running? (deploy/local/stack up kafka)"


def kafka_producer(connection: Connection) -> Any:
    """A kafka-python producer, or a one-line error saying why it cannot connect."""
    from kafka import KafkaProducer

    return connect("producer", KafkaProducer, connection, BROKER_HINT, acks="all",
                   linger_ms=5, batch_size=256 * 1024, request_timeout_ms=15000)


def confluent_producer(connection: Connection) -> Any:
    """A confluent-kafka (librdkafka) producer with kafka-python's partitions, or a one-line
    error saying why it cannot connect."""
    from confluent_kafka import Producer

    return open_client("producer", Producer, connection, BROKER_HINT, {
        "acks": "all", "linger.ms": 5, "partitioner": "murmur2_random",
        "request.timeout.ms": 15000})


def records_counter(registry: CollectorRegistry) -> Counter:
    """producer_records_total{label}, every label present from start-up."""
    counter = Counter("producer_records", "Readings sent, by label.", ["label"], registry=registry)
    for label in LABELS:
        counter.labels(label=label)
    return counter


def stop_on_sigterm() -> None:
    """Make SIGTERM behave like Ctrl-C, so both flush and close cleanly."""
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))


def pump(readings: Iterator[tuple], sink: Sink, rate: float, counter: Counter | None) -> int:
    """Send (device, seq, values, label, ts or None = now) readings to the sink at `rate`,
    printing progress; the number sent."""
    pacer, sent, last_report, started = Pacer(rate), 0, time.monotonic(), time.monotonic()
    try:
        for device, seq, values, label, ts in readings:
            pacer.wait()
            sink.send(device, seq, time.time() if ts is None else ts, values, label)
            if counter is not None:
                counter.labels(label=label or "normal").inc()
            sent += 1
            if time.monotonic() - last_report >= PROGRESS_EVERY:
                last_report = time.monotonic()
                elapsed = last_report - started
                click.echo(f"sent {sent} readings ({sent / elapsed:.0f}/s)", err=True)
    except KeyboardInterrupt:
        click.echo("interrupted: flushing", err=True)
    finally:
        sink.close()
    return sent


def simulated(sim: Simulator, count: int) -> Iterator[tuple]:
    """(device, seq, values, label, None: sent now) of each simulated reading."""
    for block in sim.blocks(total=count):
        values = block.values.round(4).tolist()
        for device, seq, row, label in zip(block.device, block.seq.tolist(), values, block.label,
                                           strict=True):
            yield device, seq, row, label, None


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version(), "--version", "-V", prog_name="producer",
                      message="%(prog)s %(version)s")
def main() -> None:
    """Simulated five-channel sensor readings, to Kafka or to CSV."""


@main.command()
@click.option("--bootstrap", envvar="PRODUCER_BOOTSTRAP", help="Kafka HOST:PORT.")
@click.option(
    "--topic", default="readings", show_default=True, envvar="PRODUCER_TOPIC", help="Kafka topic."
)
@click.option("--output", type=click.Path(dir_okay=False), help="Write a CSV instead of Kafka.")
@with_settings(SimulationSettings, into="plan")
@click.option(
    "--metrics-port",
    type=PORT,
    default=8001,
    show_default=True,
    envvar="PRODUCER_METRICS_PORT",
    help="Port of /metrics (0 = none).",
)
@kafka_security("PRODUCER")
@kafka_client_option("PRODUCER")
def simulate(
    bootstrap: str | None, topic: str, output: str | None, plan: SimulationSettings,
    metrics_port: int, kafka_client: str, **kafka: Any,
) -> None:
    """Stream simulated readings with labelled anomalies."""
    if bool(bootstrap or kafka["kafka_config"]) == bool(output):
        fail("give either --bootstrap HOST:PORT (Kafka) or --output FILE.csv")
    if output:
        if plan.count <= 0:
            fail("--output needs --count N (a file cannot be endless)")
        check_file(output, "--output")
        write_csv(plan.simulator(), plan.count, output)
        return
    sink, counter = kafka_sink(connection_from(kafka, "PRODUCER", bootstrap), topic, metrics_port,
                               kafka_client)
    stop_on_sigterm()
    sent = pump(simulated(plan.simulator(), plan.count), sink, plan.rate, counter)
    click.echo(f"sent {sent} readings to {topic}")


def kafka_sink(connection: Connection, topic: str, metrics_port: int,
               client: str = KafkaClient.KAFKA_PYTHON) -> tuple[KafkaSink, Counter]:
    """A Kafka sink on `client`'s library and the records counter, with /metrics served when a
    port is given."""
    registry = CollectorRegistry()
    counter = records_counter(registry)
    if metrics_port:
        try:
            start_http_server(metrics_port, registry=registry)
        except OSError as exc:
            fail(f"cannot serve metrics on port {metrics_port} ({exc.strerror or exc}): pass "
                 "another --metrics-port (0 = none) or stop what uses it")
    if client == KafkaClient.CONFLUENT:
        return ConfluentSink(confluent_producer(connection), topic), counter
    return KafkaSink(kafka_producer(connection), topic), counter


def write_csv(sim: Simulator, count: int, output: str) -> None:
    """Write `count` readings to a CSV, each device reading once per second from now."""
    sink = CsvSink(output)
    start = float(int(time.time()))
    try:
        for block in sim.blocks(total=count, chunk=65536):
            ts = start + block.seq
            values = block.values.round(4).tolist()
            sink.write_rows(
                [f"{t:.0f}", d, s, *v, label]
                for t, d, s, v, label in zip(
                    ts, block.device, block.seq, values, block.label, strict=True
                )
            )
    except BaseException:  # interrupted or failed: no partial file
        sink.abort()
        raise
    sink.close()
    click.echo(f"wrote {count} readings to {output}")


@main.command("seed-data")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="CSV to write.")
@click.option("--rows", type=click.IntRange(2, MAX_SEED_ROWS), default=100, show_default=True,
              help="Rows to write.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed.")
def seed_data(output: str, rows: int, seed: int) -> None:
    """The seed's data: five noisy sequences, 1, 3, 5 rising 0 -> 100, 2, 4 falling 100 -> 0."""
    from producer.signal import CHANNELS, seed_sequences

    check_file(output, "--output")
    sink = CsvSink(output, channels=CHANNELS, columns=())
    try:
        sink.write_rows(seed_sequences(rows, seed).round(4).tolist())
    except BaseException:
        sink.abort()
        raise
    sink.close()
    click.echo(f"wrote {rows} rows to {output}")


@main.command()
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--bootstrap", envvar="PRODUCER_BOOTSTRAP",
              help="Kafka HOST:PORT (or bootstrap.servers in --kafka-config).")
@click.option("--topic", default="readings", show_default=True, help="Kafka topic.")
@click.option(
    "--rate",
    type=FiniteRange(min=0),
    default=100.0,
    show_default=True,
    help="Rows per second (0 = as fast as possible).",
)
@click.option(
    "--device",
    default="replay",
    show_default=True,
    help="Device id when the CSV has no device column.",
)
@click.option(
    "--time-column",
    help="Column whose times become each reading's ts (date-times, without a zone UTC, or Unix "
         "seconds); without it ts is the time of sending.",
)
@click.option(
    "--metrics-port",
    type=PORT,
    default=8001,
    show_default=True,
    help="Port of /metrics (0 = none).",
)
@kafka_security("PRODUCER")
@kafka_client_option("PRODUCER")
def replay(
    csv_file: str, bootstrap: str | None, topic: str, rate: float, device: str,
    time_column: str | None, metrics_port: int, kafka_client: str, **kafka: Any,
) -> None:
    """Stream a CSV's rows to Kafka; values keyed by channel name, `ts` the time of sending or
    the CSV's own (--time-column)."""
    from producer.replay import csv_readings

    readings = csv_readings(csv_file, device, time_column)
    sink, counter = kafka_sink(connection_from(kafka, "PRODUCER", bootstrap), topic, metrics_port,
                               kafka_client)
    stop_on_sigterm()
    sent = pump(readings, sink, rate, counter)
    click.echo(f"sent {sent} rows of {csv_file} to {topic}")
