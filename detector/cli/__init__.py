"""The `detector` command line: train, score, evaluate, info (and serve, watch)."""

from __future__ import annotations

import click

from shared.command_line import OneLineErrors, version


class Commands(OneLineErrors):
    """A click group that ends bad input (a DetectorError, a bad option value, an unwritable or
    unreadable path) with one line on stderr and exit status 2, never a traceback."""


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version(), "--version", "-V", prog_name="detector",
                      message="%(prog)s %(version)s")
def main() -> None:
    """Anomaly detection on sensor readings with a Keras autoencoder."""


def register() -> None:
    """Attach every subcommand to the group."""
    from detector.cli.backtest import backtest
    from detector.cli.models import models
    from detector.cli.offline import evaluate, info, score, train
    from detector.cli.retrain import retrain
    from detector.cli.serve import serve
    from detector.cli.watch import watch

    for command in (train, score, evaluate, info, backtest, models, serve, watch, retrain):
        main.add_command(command)


register()
