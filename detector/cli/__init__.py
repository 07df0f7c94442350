"""The `detector` command line: train, score, evaluate, info (and serve, watch)."""

from __future__ import annotations

import sys
from typing import Any

import click

from detector.errors import DetectorError


class Commands(click.Group):
    """A click group that turns a DetectorError into one line on stderr and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DetectorError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Anomaly detection on sensor readings with a Keras autoencoder."""


def register() -> None:
    """Attach every subcommand to the group."""
    from detector.cli.offline import evaluate, info, score, train
    from detector.cli.serve import serve
    from detector.cli.watch import watch

    for command in (train, score, evaluate, info, serve, watch):
        main.add_command(command)


register()
