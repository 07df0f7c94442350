"""`detector models list|rollback DIR`: the bundles a model directory keeps (thin)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from detector.errors import BundleError


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
def rollback(directory: str, version: str | None) -> None:
    """Serve VERSION of DIRECTORY's history again (default: the one before the current)."""
    from detector.lifecycle.store import ModelStore

    store = ModelStore(directory)
    before = store.current()
    if before is None:
        raise BundleError(f"{directory} holds no model bundle")
    now = store.rollback(version)
    click.echo(f"{directory} now serves {now} (was {before})")
