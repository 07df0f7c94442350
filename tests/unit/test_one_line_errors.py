"""The command lines' refusals, in-process: one line on stderr that names the option, the file or
the reason and the `--help` to read, and the exit status the README promises (2 for bad input,
3 for a missing ACL); every number option's range as its setting's; `--log-level`. The code:
shared.command_line, shared.settings_options and the option types of detector.cli.options.

In-process, so that mutmut sees which tests reach that code (it does not follow a subprocess)."""

from __future__ import annotations

import dataclasses
import enum
import errno
import importlib.metadata
import logging
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from detector.cli import main as detector
from detector.cli.options import LayerSizes, set_log_level
from detector.core import quiet
from detector.core.training_settings import TrainingSettings
from detector.errors import DataError, NotAllowed
from detector.offline.score_settings import ScoreSettings
from detector.retrain.settings import RetrainSettings
from detector.stream.serve_settings import ServeSettings
from producer.cli import main as producer
from producer.settings import SimulationSettings
from shared import command_line
from shared.command_line import OneLineErrors
from shared.settings import field_types, unwrap


def run(*args: str) -> Result:
    """`detector ARGS` in-process."""
    return CliRunner().invoke(detector, list(args), prog_name="detector")


SIXTEEN, SEVENTEEN = ",".join(["3"] * 16), ",".join(["3"] * 17)
SIZES = "must list 1 to 16 layer sizes, each 1 to 4096, got"


ARGS = {"train": ("--simulate", "100", "--out", "b"), "score": ("b", "d", "--out", "s.csv")}


@pytest.mark.parametrize(("command", "option", "value", "message"), [
    ("train", "--hidden", "5,x", "must be comma-separated integers like 5,2, got '5,x'"),
    ("train", "--hidden", "0", f"{SIZES} '0'"),
    ("train", "--hidden", "4097", f"{SIZES} '4097'"),
    ("train", "--hidden", SEVENTEEN, f"{SIZES} '{SEVENTEEN}'"),
    ("train", "--persistence", "3/2", "persistence needs 1 <= k <= n, got 3/2"),
    ("train", "--persistence", "x", "must be K/N like 3/5, got 'x'"),
    ("train", "--threshold-follow", "300", "must be off or LAG/ROWS like 300/200, got '300'"),
    ("train", "--threshold-follow", "300/0", "needs ROWS >= 1 (or off), got '300/0'"),
    ("train", "--threshold-follow", "9000/1001",
     "needs LAG >= 0, ROWS >= 1 and LAG + ROWS <= 10000, got 9000/1001"),
    ("train", "--target-far", "nan", "'nan' is not a finite number."),
    ("train", "--target-far", "0.9", "0.9 is not in the range 0<x<0.5."),
    ("train", "--simulate", "99", "99 is not in the range 100<=x<=5000000."),
    ("train", "--simulate", "5000001", "5000001 is not in the range 100<=x<=5000000."),
    ("score", "--persistence", "3/2", "persistence needs 1 <= k <= n, got 3/2"),
    ("score", "--history", ".", "File '.' is a directory."),
])
def test_a_bad_option_is_one_line_naming_it_and_its_command_s_help(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, option: str, value: str,
    message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(command, *ARGS[command], option, value)
    assert (result.exit_code, result.stderr) == (2, (
        f"error: Invalid value for '{option}': {message} (see 'detector {command} --help')\n"))
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("command", ["serve", "retrain"])
def test_a_daemon_without_its_model_is_one_line_naming_the_option(command: str) -> None:
    result = CliRunner().invoke(detector, [command, "--bootstrap", "127.0.0.1:1"], env={
        "DETECTOR_MODEL": None}, prog_name="detector")
    assert (result.exit_code, result.stderr) == (2, (
        "error: Missing option '--model' (env var: 'DETECTOR_MODEL'). "
        f"(see 'detector {command} --help')\n"))


def test_train_without_a_folder_to_write_or_onto_a_file_is_one_line(tmp_path: Path) -> None:
    missing = run("train", "--simulate", "100")
    assert (missing.exit_code, missing.stderr) == (
        2, "error: Missing option '--out'. (see 'detector train --help')\n")
    (tmp_path / "f").write_text("kept")
    onto_file = run("train", "--simulate", "100", "--out", str(tmp_path / "f"))
    assert (onto_file.exit_code, onto_file.stderr) == (2, (
        f"error: Invalid value for '--out': Directory '{tmp_path / 'f'}' is a file. "
        "(see 'detector train --help')\n"))
    assert (tmp_path / "f").read_text() == "kept"


@pytest.mark.parametrize(("group", "args", "cls"), [
    (detector, ["train", "--simulate", "100", "--out", "b", "--columns", "a,b"], TrainingSettings),
    (detector, ["score", "b", "d", "--out", "s.csv"], ScoreSettings),
    (detector, ["serve", "--model", "b"], ServeSettings),
    (detector, ["retrain", "--model", "b"], RetrainSettings),
    (producer, ["simulate", "--output", "r.csv"], SimulationSettings),
], ids=["train", "score", "serve", "retrain", "simulate"])
def test_what_a_command_is_not_given_takes_its_setting_s_default(
    group: click.Group, args: list[str], cls: type
) -> None:
    with bare_root_logger():
        given = group.commands[args[0]].make_context(args[0], args[1:]).params  # parsed, not run
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING and f.name in given:
            default = f.default.value if isinstance(f.default, enum.Enum) else f.default
            assert given[f.name] == default, f.name


@pytest.mark.parametrize("text", ["1", "4096", "5,2", SIXTEEN])
def test_layer_sizes_at_their_bounds_are_taken(text: str) -> None:
    assert LayerSizes().convert(text, None, None) == tuple(map(int, text.split(",")))


def test_an_unknown_option_points_at_the_help_of_the_command_it_was_given_to() -> None:
    group = run("--bogus")
    assert (group.exit_code, group.stderr) == (
        2, "error: No such option '--bogus'. (see 'detector --help')\n")
    command = run("train", "--bogus")
    assert command.exit_code == 2 and command.stderr.count("\n") == 1
    assert command.stderr.startswith("error: No such option '--bogus'.")
    assert command.stderr.endswith("(see 'detector train --help')\n")


def toy(error: BaseException) -> click.Group:
    """A OneLineErrors group whose one command `go` raises `error`."""

    @click.group(cls=OneLineErrors)
    def group() -> None:
        """A group."""

    @group.command()
    def go() -> None:
        """Raise."""
        raise error

    return group


@pytest.mark.parametrize(("error", "status", "line"), [
    (NotAllowed("the broker refuses WRITE on topic t"), 3, "the broker refuses WRITE on topic t"),
    (DataError("a.csv: no rows"), 2, "a.csv: no rows"),
    (click.ClickException("click says no"), 1, "click says no"),
    (click.UsageError("a usage error in the command"), 2,
     "a usage error in the command (see 'toy go --help')"),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "/nowhere/x.csv"), 2,
     "No such file or directory (/nowhere/x.csv)"),
    (OSError(errno.ENOSPC, "No space left on device"), 2, "No space left on device"),
    (OSError(), 2, "failed"),
], ids=["not-allowed", "data", "click", "usage", "file", "disk", "bare-os-error"])
def test_each_error_ends_the_command_with_one_line_and_its_status(
    error: BaseException, status: int, line: str
) -> None:
    result = CliRunner().invoke(toy(error), ["go"], prog_name="toy")
    assert (result.exit_code, result.stderr) == (status, f"error: {line}\n")


def test_the_version_is_the_installed_distribution_s_or_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert command_line.version() == importlib.metadata.version("anomaly-detector")
    monkeypatch.setattr(command_line, "DISTRIBUTION", "no-such-distribution-installed")
    assert command_line.version() == "unknown (not installed: run `make install`)"


@contextmanager
def bare_root_logger() -> Iterator[logging.Logger]:
    """The root logger without handlers (as in a fresh process, where basicConfig acts), its
    handlers and level put back afterwards."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers = []
    try:
        yield root
    finally:
        root.handlers = saved
        root.setLevel(level)


@pytest.mark.parametrize(("level", "shown"), [("debug", True), ("info", False), ("error", False)])
def test_log_level_sets_stderr_s_lines_and_debug_alone_shows_tensorflow_s(
    monkeypatch: pytest.MonkeyPatch, level: str, shown: bool
) -> None:
    monkeypatch.setattr(quiet, "_show", False)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "")
    with bare_root_logger() as root:
        set_log_level(click.Context(detector), click.Option(["--log-level"]), level)
        (handler,) = root.handlers
        assert isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr
        assert root.level == logging.getLevelName(level.upper())
        record = logging.LogRecord("detector.x", logging.ERROR, "", 0, "it broke", None, None)
        assert handler.format(record) == "ERROR detector.x: it broke"
        assert quiet.verbose() is shown
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == ("0" if shown else "3")


def number_options(command: click.Command, cls: type) -> list[tuple[click.Parameter, type, Any]]:
    """(option, int or float, range) of every field of `cls` with a range, as `command` has it."""
    params = {p.name: p for p in command.params}
    found = []
    for f in dataclasses.fields(cls):
        kind, meta, _ = unwrap(field_types(cls)[f.name])
        if meta is not None and kind in (int, float) and f.name in params:
            found.append((params[f.name], kind, meta))
    return found


def step(kind: type, value: float, up: bool) -> float:
    """The next number past `value` (an int: one more or less)."""
    if kind is int:
        return value + (1 if up else -1)
    return math.nextafter(value, math.inf if up else -math.inf)


def takes(param: click.Parameter, value: float) -> bool:
    """Whether the option's type takes the value as typed on a command line."""
    try:
        param.type.convert(str(value), param, None)
    except click.BadParameter:
        return False
    return True


@pytest.mark.parametrize(("command", "cls"), [
    (detector.commands["train"], TrainingSettings), (detector.commands["score"], ScoreSettings),
    (detector.commands["serve"], ServeSettings), (detector.commands["retrain"], RetrainSettings),
    (producer.commands["simulate"], SimulationSettings),
], ids=["train", "score", "serve", "retrain", "simulate"])
def test_each_number_option_takes_its_setting_s_range_and_nothing_past_it(
    command: click.Command, cls: type
) -> None:
    options = number_options(command, cls)
    assert options, "no option with a range"
    for param, kind, meta in options:
        for low, closed in ((meta.ge, True), (meta.gt, False)):
            if low is not None:
                assert takes(param, low) is closed, (param.name, low)
                assert takes(param, step(kind, low, up=not closed)) is not closed, param.name
        for high, closed in ((meta.le, True), (meta.lt, False)):
            if high is not None:
                assert takes(param, high) is closed, (param.name, high)
                assert takes(param, step(kind, high, up=closed)) is not closed, param.name


@pytest.mark.parametrize(("args", "env", "level"), [
    (["--log-level", "DEBUG"], {}, logging.DEBUG),
    (["--log-level", "info"], {"DETECTOR_LOG_LEVEL": "error"}, logging.INFO),
    ([], {"DETECTOR_LOG_LEVEL": "error"}, logging.ERROR),
])
def test_the_log_level_comes_from_the_option_in_any_case_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], level: int
) -> None:
    monkeypatch.setattr(quiet, "_show", False)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "")
    with bare_root_logger() as root:
        result = CliRunner().invoke(detector, ["info", "/nowhere/bundle", *args], env=env,
                                    prog_name="detector")
        assert result.exit_code == 2 and result.stderr.startswith("error: model bundle")
        assert root.level == level


def test_a_log_level_of_no_such_level_is_refused_and_the_help_names_its_variable() -> None:
    result = run("info", "b", "--log-level", "chatty")
    assert (result.exit_code, result.stderr) == (2, (
        "error: Invalid value for '--log-level' (env var: 'DETECTOR_LOG_LEVEL'): 'chatty' is not "
        "one of 'debug', 'info', 'warning', 'error'. (see 'detector info --help')\n"))
    assert "env var: DETECTOR_LOG_LEVEL" in " ".join(run("info", "--help").stdout.split())
