"""The command lines' help as a new user reads it, through the real commands: whole summaries,
a version, a description for every option, one case for every choice."""

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from detector.cli import main as detector
from producer.cli import main as producer
from tests.helpers import REPO

GROUPS = {"detector": detector, "producer": producer}


def run(*args: str) -> subprocess.CompletedProcess:
    """`python -m ARGS` from the checkout."""
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.mark.parametrize("program", GROUPS)
def test_help_lists_each_command_with_its_whole_first_sentence(program):
    shown = CliRunner().invoke(GROUPS[program], ["--help"], prog_name=program)
    assert shown.exit_code == 0, shown.stderr
    listed = " ".join(shown.stdout.split("Commands:")[1].split())
    assert "..." not in listed
    for name, command in GROUPS[program].commands.items():
        first = command.help.split("\n\n")[0].split(". ")[0].rstrip(".")
        assert " ".join(first.split()) in listed, name


@pytest.mark.parametrize("program", GROUPS)
def test_version_prints_the_program_and_its_version(program):
    shown = run(program, "--version")
    assert shown.returncode == 0, shown.stderr
    name, number = shown.stdout.split()
    assert name == program and number[0].isdigit()


def options():
    """(program, command, option) of every option a user can see."""
    for program, group in GROUPS.items():
        for name, command in group.commands.items():
            for param in command.params:
                if isinstance(param, click.Option) and not param.hidden:
                    yield pytest.param(param, id=f"{program} {name} {param.opts[0]}")


@pytest.mark.parametrize("param", options())
def test_every_option_says_what_it_does_and_its_choices_share_one_case(param):
    assert param.help and len(param.help.split()) >= 2
    if isinstance(param.type, click.Choice):
        words = [c for c in param.type.choices if c.lower() != c.upper()]
        assert all(c == c.lower() for c in words) or all(c == c.upper() for c in words)
    if isinstance(param.default, str) and isinstance(param.type, click.Choice):
        assert param.default in param.type.choices
