"""`detector watch`: print each anomaly event as one line, every field escaped for the terminal."""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from detector.cli.serve import (
    BROKER_HINT,
    DEFAULT_BOOTSTRAP,
    configure_logging,
    kafka_connection,
    option,
)
from detector.errors import ConfigError
from detector.printable import printable, text_of
from shared.kafka_client import security_options


@click.command()
@option("bootstrap", default=DEFAULT_BOOTSTRAP, show_default=True, help="Kafka bootstrap servers.")
@security_options("DETECTOR")
@click.option("--topic", default="anomalies", show_default=True, help="Topic of the events.")
@click.option("--from-beginning", is_flag=True, help="Print the events already on the topic too.")
@click.option("--count", type=click.IntRange(min=0), default=0, show_default=True,
              help="Stop after this many events (0 = run until Ctrl-C).")
@click.option("--wait", type=click.FloatRange(min=0), default=60.0, show_default=True,
              help="Seconds to wait for the topic to exist (detector serve creates it) before "
                   "giving up with status 2 (0 = wait until Ctrl-C).")
def watch(topic: str, from_beginning: bool, count: int, wait: float, **kafka: Any) -> None:
    """Print each anomaly event as one line: time, device, score, top channel."""
    import time

    import orjson

    from detector.brokers.kafka_clients import follow

    configure_logging("WARNING")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    values = follow(kafka_connection(kafka), BROKER_HINT, topic, from_beginning,
                    lambda lookup: wait_for_topic(lookup, topic, wait, time.monotonic,
                                                  time.sleep))
    seen = 0
    try:
        for value in values:
            try:
                event = orjson.loads(value) if value else None
            except orjson.JSONDecodeError:
                event = value
            click.echo(describe(event))
            seen += 1
            if count and seen >= count:
                break
    except KeyboardInterrupt:
        pass
    finally:
        values.close()


def wait_for_topic(lookup: Callable[[str], set[int] | None], topic: str, wait: float,
                   clock: Callable[[], float], sleep: Callable[[float], None]) -> set[int]:
    """The topic's partitions (`lookup` asks the broker), once it exists; says on stderr who
    creates it while it does not, and gives up (a ConfigError) after `wait` seconds (0: never)."""
    partitions = lookup(topic)
    if partitions:
        return partitions
    click.echo(f"topic {topic} does not exist yet: `detector serve` creates it when it starts "
               f"(start it, or check --topic); waiting{f' up to {wait:g} s' if wait else ''} "
               "(Ctrl-C stops)", err=True)
    deadline = clock() + wait
    while not partitions:
        if wait and clock() >= deadline:
            raise ConfigError(f"topic {topic} still does not exist after {wait:g} s: start "
                              "`detector serve` (it creates the topic) or check --topic")
        sleep(1.0)
        partitions = lookup(topic)
    return partitions


def describe(event: object) -> str:
    """One readable line for an anomaly event: time, device, score, top channel and more.

    Every field is escaped (detector.printable): an event cannot retitle the terminal, move the
    cursor or forge lines.
    """
    if not isinstance(event, dict):
        return f"(not an anomaly event: {printable(text_of(event)[:200])})"

    def field(name: str) -> str:
        return printable(text_of(event.get(name, "?")))
    stamp = iso_time(event.get("ts"))
    score = event.get("score")
    try:
        shown = f"{score:9.2f}" if isinstance(score, int | float) else f"{field('score'):>9}"
    except OverflowError:  # an int too large for a float
        shown = f"{'huge':>9}"
    return (
        f"{stamp}  {field('device'):<14} score {shown}  top {field('top_channel'):<8} "
        f"seq {field('seq')}  model {field('model_version')}  [{field('event_id')}]"
    )


def iso_time(when: object) -> str:
    """Seconds since the epoch as UTC ISO 8601 with milliseconds, or '?'."""
    if not isinstance(when, int | float) or isinstance(when, bool):
        return "?"
    try:
        moment = datetime.fromtimestamp(when, UTC)
    except (OverflowError, OSError, ValueError):
        return "?"
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
