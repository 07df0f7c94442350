"""Options of the offline commands: types that check ranges while click parses (before any
TensorFlow import), the shared scoring options, and `--log-level`."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from detector.core.alarm import Persistence, parse_persistence
from detector.core.follow import ThresholdFollow, parse_follow
from detector.core.quiet import show_logs
from detector.core.training_settings import MAX_LAYER_SIZE, MAX_LAYERS, TrainingSettings
from detector.errors import DataError
from detector.offline.score_settings import ScoreSettings
from shared.settings_options import with_settings

MIN_SIMULATE, MAX_SIMULATE = 100, 5_000_000
LOG_LEVELS = ("debug", "info", "warning", "error")


class CoreParsed(click.ParamType):
    """A value one of detector.core's parsers reads (`parse`, giving a `kind`); its DataError, less
    the option's name (click names it), is click's one-line error."""

    def __init__(self, name: str, kind: type, parse: Callable[[str], Any], option: str) -> None:
        self.name, self.kind, self.parse, self.option = name, kind, parse, option

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, self.kind):
            return value
        try:
            return self.parse(value)
        except DataError as exc:
            self.fail(str(exc).removeprefix(f"{self.option} "), param, ctx)


# `K/N` with 1 <= K <= N <= 1000, as a Persistence
PERSISTENCE = CoreParsed("K/N", Persistence, parse_persistence, "--persistence")
# `off` or `LAG/ROWS` with LAG + ROWS <= 10,000, as a ThresholdFollow
FOLLOW = CoreParsed("LAG/ROWS", ThresholdFollow, parse_follow, "--threshold-follow")


class LayerSizes(click.ParamType):
    """`5,2`: 1 to 16 comma-separated layer sizes, each 1 to 4096."""

    name = "SIZES"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        try:
            sizes = tuple(int(s) for s in str(value).split(",") if s.strip())
        except ValueError:
            self.fail(f"must be comma-separated integers like 5,2, got {value!r}", param, ctx)
        if not 1 <= len(sizes) <= MAX_LAYERS or not all(1 <= s <= MAX_LAYER_SIZE for s in sizes):
            self.fail(
                f"must list 1 to {MAX_LAYERS} layer sizes, each 1 to {MAX_LAYER_SIZE}, "
                f"got {value!r}",
                param,
                ctx,
            )
        return sizes


def set_log_level(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Configure logging; `debug` also shows TensorFlow's own log lines."""
    level = value.upper()
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    logging.getLogger().setLevel(level)
    show_logs(level == "DEBUG")
    return value


def log_level(command: Callable) -> Callable:
    """The `--log-level` option (parsed first, before anything imports TensorFlow)."""
    return click.option(
        "--log-level",
        type=click.Choice(LOG_LEVELS, case_sensitive=False),
        default="warning",
        show_default=True,
        envvar="DETECTOR_LOG_LEVEL",
        show_envvar=True,
        is_eager=True,
        expose_value=False,
        callback=set_log_level,
        help="Log detail; debug also shows TensorFlow's own log lines.",
    )(command)


def scoring_options(command: Callable) -> Callable:
    """The options `score` and `evaluate` share, as one `settings` (ScoreSettings): history,
    threshold and persistence overrides."""
    types = {"history": click.Path(dir_okay=False), "persistence": PERSISTENCE}
    return with_settings(ScoreSettings, types=types)(log_level(command))


def training_options(command: Callable) -> Callable:
    """The options of `train`: its data, then every `TrainingSettings` field (one `settings`)."""
    types = {"hidden": LayerSizes(), "persistence": PERSISTENCE, "threshold_follow": FOLLOW}
    command = with_settings(TrainingSettings, types=types)(log_level(command))
    options = [
        click.option(
            "--out", required=True, type=click.Path(file_okay=False), help="Bundle folder to write."
        ),
        click.option(
            "--simulate",
            type=click.IntRange(MIN_SIMULATE, MAX_SIMULATE),
            help="Train on N fresh simulated normal readings instead of DATA.csv.",
        ),
        click.option(
            "--columns", help="Channel columns, comma-separated (default: every numeric one)."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command
