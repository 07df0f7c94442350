"""Command-line building blocks both CLIs share: finite number ranges, seeds, one-line errors."""

from __future__ import annotations

import math
import sys
from typing import Any

import click

from shared.wire import InputError

SEED = click.IntRange(0, 2**32 - 1)  # what NumPy's and Keras's seeding accept


class FiniteRange(click.FloatRange):
    """A FloatRange that also refuses NaN and ±infinity (click's own lets them through)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def one_line(message: str, code: int = 2) -> None:
    """Print `error: MESSAGE` (one line) on stderr and exit with `code`."""
    text = " ".join(str(message).split()) or "failed"
    click.echo(f"error: {text}", err=True)
    sys.exit(code)


NO_ARGS = getattr(click.exceptions, "NoArgsIsHelpError", ())


def usage(exc: click.UsageError, ctx: click.Context) -> None:
    """A bad option or argument as one line, pointing at the command's --help."""
    where = exc.ctx.command_path if exc.ctx else ctx.command_path
    one_line(f"{exc.format_message()} (see '{where} --help')", exc.exit_code)


def version() -> str:
    """The installed distribution's version (pyproject's), for `--version`."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown (not installed: run `make install`)"


DISTRIBUTION = "anomaly-detector"


class OneLineErrors(click.Group):
    """A click group that ends bad input with one line on stderr: an InputError, a bad option
    (click's usage errors, also status 2) or an OSError (status 2), never a traceback. Its help
    lists each command's first sentence whole (click's default cuts it with "...")."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, command.get_short_help_str(limit=1000))
                for name in self.list_commands(ctx)
                if (command := self.get_command(ctx, name)) is not None and not command.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            if isinstance(exc, NO_ARGS):  # the help text itself, as click shows it
                raise
            usage(exc, ctx)
            raise  # unreachable

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            usage(exc, ctx)
        except click.ClickException as exc:
            one_line(exc.format_message(), exc.exit_code)
        except InputError as exc:
            one_line(str(exc), exc.exit_code)
        except BrokenPipeError:  # stdout closed early (`| head`): click ends it quietly
            raise
        except OSError as exc:  # a file that vanished, a full disk: the system's words, no trace
            where = f" ({exc.filename})" if exc.filename else ""
            one_line(f"{exc.strerror or exc}{where}")
