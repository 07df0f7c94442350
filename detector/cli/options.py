"""Options of the offline commands: types that check ranges while click parses (before any
TensorFlow import), the shared scoring options, and `--log-level`."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from detector.core.alarm import MAX_N, Persistence, parse_persistence
from detector.core.calibration import METHODS
from detector.core.quiet import show_logs
from detector.core.schema import ACTIVATIONS, RESIDUALS
from detector.errors import DataError
from shared.command_line import SEED, FiniteRange

MIN_SIMULATE, MAX_SIMULATE = 100, 5_000_000
MAX_EPOCHS, MAX_WINDOW = 10_000, 1000
MAX_PERSISTENCE = MAX_N
MAX_LAYERS = 16
MAX_LAYER_SIZE = 4096
LOG_LEVELS = ("debug", "info", "warning", "error")


class PersistenceRule(click.ParamType):
    """`K/N` with 1 ≤ K ≤ N ≤ 1000, as a Persistence."""

    name = "K/N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, Persistence):
            return value
        try:
            return parse_persistence(value)
        except DataError as exc:
            self.fail(str(exc).removeprefix("--persistence "), param, ctx)


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
    """The options `score` and `evaluate` share: history, threshold and persistence overrides."""
    options = [
        click.option(
            "--history",
            type=click.Path(dir_okay=False),
            help="A CSV of the readings just before DATA: history for the first windows and the "
            "persistence rule; not scored into the output.",
        ),
        click.option(
            "--threshold",
            type=FiniteRange(min=0, min_open=True),
            help="Use this threshold (a number > 0), not the bundle's.",
        ),
        click.option(
            "--persistence",
            type=PersistenceRule(),
            help="Use this K/N rule (1 <= K <= N <= 1000), not the bundle's.",
        ),
    ]
    command = log_level(command)
    for option in reversed(options):
        command = option(command)
    return command


def choice(name: str, choices: Sequence[str], default: str, help: str) -> Callable:
    """An option that takes one of `choices`, its default shown in the help."""
    return click.option(name, type=click.Choice(list(choices)), default=default,
                        show_default=True, help=help)


def training_options(command: Callable) -> Callable:
    """The options of `train`, each with its range and default in its help."""
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
        click.option(
            "--epochs",
            type=click.IntRange(1, MAX_EPOCHS),
            default=200,
            show_default=True,
            help="Most passes over the data (early stopping may end sooner).",
        ),
        click.option(
            "--hidden",
            type=LayerSizes(),
            help="Hidden layer sizes, or conv filters, 1 to 16 of 1 to 4096 (default: 5,2 dense; "
            "32,16 conv).",
        ),
        choice("--activation", ACTIVATIONS, "linear",
               "Activation of the hidden layers."),
        click.option(
            "--window",
            type=click.IntRange(1, MAX_WINDOW),
            default=1,
            show_default=True,
            help="Readings per window: each reading is scored with the window − 1 before it.",
        ),
        choice("--architecture", ["dense", "conv", "conv-shared"], "dense",
               "Dense layers, or a Conv1D encoder and decoder; conv-shared decodes one curve "
               "for every channel (the SKAB benchmark's Conv-AE)."),
        click.option(
            "--dropout",
            type=FiniteRange(0, 0.9),
            default=0.0,
            show_default=True,
            help="Conv only: dropout after the first encoder and the first decoder layer.",
        ),
        choice("--calibration", METHODS, "pot",
               "Threshold from an empirical quantile, or from peaks over threshold (EVT)."),
        click.option(
            "--target-far",
            type=FiniteRange(0, 0.5, min_open=True, max_open=True),
            default=0.001,
            show_default=True,
            help="False-alarm rate the threshold aims at.",
        ),
        click.option(
            "--holdout",
            type=FiniteRange(0, 1, min_open=True, max_open=True),
            default=0.3,
            show_default=True,
            help="Fraction of the data (its tail) held out for calibration.",
        ),
        click.option(
            "--margin",
            type=FiniteRange(1, 100),
            default=1.0,
            show_default=True,
            help="Multiply the calibrated threshold by this (headroom for drift).",
        ),
        click.option(
            "--gap-power",
            type=FiniteRange(0, 4),
            default=0.0,
            show_default=True,
            help="Multiply the threshold by (median held-out error / median training error) ** P: "
            "headroom from how much worse unseen normal data looks (0 = off).",
        ),
        choice("--headroom", ["none", "drift"], "none",
               "drift: a probe model fitted on the oldest half of the data measures how the "
               "median error grows with distance; the threshold grows as that median will at "
               "the middle of --horizon (never lower)."),
        click.option(
            "--horizon",
            type=FiniteRange(0, 100, min_open=True),
            help="With --headroom drift: how long the threshold must hold past the data, in "
            "multiples of the data's length [default: 1].",
        ),
        choice("--residual", RESIDUALS, "squared",
               "A window's error: the mean squared or the mean absolute gap between readings "
               "and reconstruction (standard units), in calibration and scoring alike."),
        choice("--slow-channels", ["keep", "centre"], "keep",
               "centre: channels with more than half their variance in their window-long means "
               "(a temperature) enter every window centred on its own mean, so the model sees "
               "their shape, not a level the training data cannot cover (needs --window >= 2)."),
        choice("--combine", ["mean", "max"], "mean",
               "A window's error from its channels' errors: their mean, or the largest (a fault "
               "that shows in one channel)."),
        click.option(
            "--persistence",
            type=PersistenceRule(),
            default="1/1",
            show_default=True,
            help=f"Alarm when K of a device's last N windows are above the threshold "
            f"(1 <= K <= N <= {MAX_PERSISTENCE}).",
        ),
        choice("--validation", ["tail", "random"], "tail",
               "Windows early stopping watches: the newest fifth of the fitting data, or a "
               "random fifth."),
        choice("--calibrate-on", ["held-out", "training"], "held-out",
               "Errors the threshold comes from: the held-out tail, or the training windows "
               "themselves (in-sample, no held-out part: a lower threshold; as SKAB's notebooks)."),
        click.option(
            "--learning-rate",
            type=FiniteRange(0, 1, min_open=True),
            default=0.005,
            show_default=True,
            help="Adam's learning rate.",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(0, 1_000_000),
            default=0,
            show_default=True,
            help="Windows per step; 0 chooses from the data size.",
        ),
        click.option(
            "--patience",
            type=click.IntRange(1, MAX_EPOCHS),
            default=15,
            show_default=True,
            help="Epochs without a better validation loss before training stops.",
        ),
        click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed."),
    ]
    command = log_level(command)
    for option in reversed(options):
        command = option(command)
    return command
