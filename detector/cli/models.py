"""`detector models list|rollback DIR`: the bundles a model directory keeps (thin)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from detector.cli.serve import BROKER_HINT, DEFAULT_BOOTSTRAP, kafka_connection, option
from detector.errors import BundleError, ConfigError
from shared.kafka_client import security_options


@click.group()
def models() -> None:
    """The bundles a model directory has served: list them, roll back."""


@models.command(name="list")
@click.argument("directory", type=click.Path())
def list_models(directory: str) -> None:
    """The bundles DIRECTORY keeps, newest change first; * marks the one it serves."""
    from detector.lifecycle.store import ModelStore

    store = ModelStore(directory)
    if store.current() is None:
        raise BundleError(f"{directory} holds no model bundle")
    for entry in store.entries():
        when = datetime.fromtimestamp(entry.since, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        click.echo(f"{'*' if entry.current else ' '} {entry.version}  {when}  {entry.action}"
                   + (f"  {entry.reason}" if entry.reason else ""))


@models.command()
@click.argument("directory", type=click.Path())
@click.argument("version", required=False)
@option("model-topic", help="Also publish the bundle rolled back to on this model topic, so "
        "that the replicas following it (serve --model-topic) switch back too.")
@option("bootstrap", default=DEFAULT_BOOTSTRAP, show_default=True,
        help="Kafka bootstrap servers of the model topic, HOST:PORT[,HOST:PORT...].")
@security_options("DETECTOR")
def rollback(directory: str, version: str | None, model_topic: str | None,
             **kafka: Any) -> None:
    """Serve VERSION of DIRECTORY's history again (default: the one before the current), and
    publish it on --model-topic when given."""
    from detector.lifecycle.store import ModelStore

    store = ModelStore(directory)
    before = store.current()
    if before is None:
        raise BundleError(f"{directory} holds no model bundle")
    target = store.target(version)
    writer = None
    if model_topic:  # the topic checked and the bundle's size too, before DIR changes
        from detector.brokers.kafka_models import ModelTopicWriter
        from detector.brokers.model_topic import bundle_record

        writer = ModelTopicWriter(kafka_connection(kafka), BROKER_HINT, model_topic)
        bundle_record(store.history / target, writer.limit)
    try:
        now = store.rollback(target)
        click.echo(f"{directory} now serves {now} (was {before})")
        if writer is not None:
            publish(writer, directory, now)
    finally:
        if writer is not None:
            writer.close()


def publish(writer: Any, directory: str, version: str) -> None:
    """Publish DIR's bundle on the model topic; a failure says that DIR changed and what to do."""
    try:
        writer.publish(directory)
    except Exception as exc:
        raise ConfigError(f"{directory} serves {version} but the model topic {writer.topic} was "
                          f"not updated ({str(exc).splitlines()[0] if str(exc) else exc}): run "
                          "the same rollback again") from exc
    click.echo(f"published {version} on the model topic {writer.topic}")
