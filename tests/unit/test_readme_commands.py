"""The README's command table and map read against the code a user runs: every option the table
names is one the command takes, with the default its `--help` shows; serve's and retrain's
options each also read DETECTOR_<OPTION>; every command that talks to Kafka takes the TLS and
SASL settings and no password on the command line; the map names each module of each package;
every command line written in the README and docs/ uses options the command takes."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest

from detector.cli import main as detector
from producer.cli import main as producer
from tests.helpers import REPO

README = (REPO / "README.md").read_text()
PROGRAMS: dict[str, click.Group] = {"detector": detector, "producer": producer}
OPTION = re.compile(r"`(--[a-z][a-z-]*)(?: ([^`]+))?`")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_/]*(\.[a-z]+)?$")  # DIR, FILE.csv, K/N: not defaults
CODE = ("detector", "producer", "shared")  # the packages whose modules the map names
TLS = ("--security-protocol", "--sasl-mechanism", "--sasl-username", "--ssl-cafile",
       "--ssl-certfile", "--ssl-keyfile", "--kafka-config")


def section(heading: str) -> str:
    """The README's text under a `## heading`, up to the next one."""
    found = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert found, f"README has no '## {heading}' section"
    return found[1]


def table_rows(heading: str) -> list[tuple[str, str]]:
    """(first cell, second cell) of each row of the section's table, the header left out."""
    rows = [line.split(" | ", 1) for line in section(heading).splitlines()
            if line.startswith("| ") and not line.startswith("|---")]
    return [(first.strip("| "), rest.rstrip("| ")) for first, rest in rows[1:]]


def command(words: list[str]) -> click.Command:
    """The click command `words` names (`detector models list`)."""
    found: click.Command = PROGRAMS[words[0]]
    for word in words[1:]:
        assert isinstance(found, click.Group) and word in found.commands, " ".join(words)
        found = found.commands[word]
    return found


def named(cell: str) -> list[tuple[str, click.Command]]:
    """The commands a row's first cell names (`detector models list DIR`, `detector models
    rollback DIR`: both), by their words up to the first argument."""
    commands = []
    for text in re.findall(r"`((?:detector|producer) [a-z -]+)", cell):
        words = text.split()
        while len(words) > 2 and not isinstance(command(words[:-1]), click.Group):
            words.pop()
        commands.append((" ".join(words), command(words)))
    return commands


def rows() -> Iterator[pytest.param]:
    for first, rest in table_rows("Commands"):
        commands = named(first)
        assert commands, first
        yield pytest.param(commands, first + " " + rest, id=commands[-1][0])


def options_of(cmd: click.Command) -> dict[str, click.Option]:
    return {opt: p for p in cmd.params if isinstance(p, click.Option) for opt in p.opts}


def shown_default(cmd: click.Command, option: click.Option) -> str:
    """The option's help line as `--help` prints it, defaults included."""
    with click.Context(cmd, info_name=cmd.name) as ctx:
        record = option.get_help_record(ctx)
    return " ".join(record[1].split()) if record else ""


def same(stated: str, shown: str) -> bool:
    """`stated` is the default `shown` (a help line's `[default: X]` or `(default: X …)`)."""
    found = re.search(r"[\[(;] ?default: ([^\]);]+?)[\]);\s]", shown + " ")
    if found is None:
        return False
    value = found[1]
    try:
        return float(stated) == float(value)
    except ValueError:
        return stated == value


@pytest.mark.parametrize(("commands", "row"), rows())
def test_each_option_the_command_table_names_is_taken_with_the_default_help_shows(commands, row):
    wrong = []
    for option, value in OPTION.findall(row):
        takes = [(name, cmd) for name, cmd in commands if option in options_of(cmd)]
        if not takes:
            wrong.append(f"{option}: not an option of {', '.join(n for n, _ in commands)}")
            continue
        name, cmd = takes[-1]
        param = options_of(cmd)[option]
        if not value or PLACEHOLDER.match(value):
            continue
        if "|" in value:
            choices = set(getattr(param.type, "choices", ()))
            if set(value.replace("\\", "").split("|")) != choices:
                wrong.append(f"{name} {option}: README {value}, --help {sorted(choices)}")
        elif not same(value, shown_default(cmd, param)):
            wrong.append(f"{name} {option}: README {value}, --help "
                         f"{shown_default(cmd, param)!r}")
    assert not wrong, wrong


@pytest.mark.parametrize("name", ["serve", "retrain"])
def test_each_daemon_option_is_also_read_from_detector_option(name):
    cmd = command(["detector", name])
    assert f"`detector {name} " in README and "each also `DETECTOR_<OPTION>`" in README
    wrong = [p.opts[0] for p in cmd.params if isinstance(p, click.Option) and p.opts[0] !=
             "--help" and p.envvar != "DETECTOR_" + p.name.upper()]
    assert not wrong, wrong


def every_command() -> Iterator[pytest.param]:
    """Every command of both programs, with its words."""
    def walk(group: click.Group, words: list[str]) -> Iterator[pytest.param]:
        for name, cmd in group.commands.items():
            if isinstance(cmd, click.Group):
                yield from walk(cmd, [*words, name])
            else:
                yield pytest.param(cmd, id=" ".join([*words, name]))
    for program, group in PROGRAMS.items():
        yield from walk(group, [program])


def kafka_commands() -> list[pytest.param]:
    """Every command with a --bootstrap option: those that talk to Kafka."""
    return [p for p in every_command() if "--bootstrap" in options_of(p.values[0])]


@pytest.mark.parametrize("cmd", kafka_commands())
def test_every_kafka_command_takes_tls_and_sasl_and_no_password_on_the_command_line(cmd):
    text = " ".join(section("Commands").split())
    assert all(f"`{option}`" in text for option in TLS[:4]) and "(`--kafka-config`)" in text
    taken = options_of(cmd)
    assert [option for option in TLS if option not in taken] == []
    passwords = [option for option in taken if "password" in option]
    assert passwords and all(option.endswith("-file") for option in passwords), passwords


def packages() -> Iterator[pytest.param]:
    """(the map's row, the package's folder) for each package of the code the map names."""
    for where, what in table_rows("Map of the code"):
        folder = REPO / where.strip("`").rstrip("/")
        if (folder / "__init__.py").exists() and folder.relative_to(REPO).parts[0] in CODE:
            yield pytest.param(what, folder, id=where.strip("`"))


@pytest.mark.parametrize(("what", "folder"), packages())
def test_the_map_names_each_module_of_each_package(what, folder):
    modules = {p.stem for p in folder.glob("*.py") if not p.stem.startswith("__")}
    assert sorted(modules - set(re.findall(r"`([a-z_]+)`", what))) == []


def test_the_map_lists_every_package():
    listed = {where.strip("`").rstrip("/") for where, _ in table_rows("Map of the code")}
    folders = {str(p.parent.relative_to(REPO)) for p in REPO.glob("*/__init__.py")} | {
        str(p.parent.relative_to(REPO)) for p in REPO.glob("detector/*/__init__.py")}
    assert sorted(f for f in folders - listed - {"detector"} if f.split("/")[0] in CODE) == []


REFERENCE_TABLES = {"docs/streaming.md": ("detector", "serve"),
                    "docs/model.md": ("detector", "train")}  # each page's table of a command


def reference_rows() -> Iterator[pytest.param]:
    """(command, options, env cell or None, default cell) of each row of the reference pages'
    option tables (header `| option | … default | …`)."""
    for page, words in REFERENCE_TABLES.items():
        lines = (REPO / page).read_text().splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("| option |"))
        header = [cell.strip() for cell in lines[start].strip("|").split("|")]
        for line in lines[start + 2:]:
            if not line.startswith("|"):
                break
            cells = dict(zip(header, (c.strip() for c in line.strip("|").split(" | ")),
                             strict=False))
            options = re.findall(r"`(--[a-z-]+)", cells["option"])
            yield pytest.param(command(list(words)), options, cells.get("env"), cells["default"],
                               id=f"{page} {' '.join(options)}")


@pytest.mark.parametrize(("cmd", "options", "env", "default"), reference_rows())
def test_each_reference_table_row_is_an_option_with_its_variable_and_default(
    cmd, options, env, default
):
    taken = options_of(cmd)
    assert [o for o in options if o not in taken] == []
    if env is not None:
        assert env.strip("`") == taken[options[0]].envvar
    defaults = default.split(", ") if len(options) > 1 else [default]
    assert len(defaults) == len(options), default
    for option, stated in zip(options, defaults, strict=True):
        shown = shown_default(cmd, taken[option])
        value = stated.strip("`").split()[0].strip("`")
        if "default:" in shown and stated not in ("required", "the bundle's"):
            assert same(value, shown), f"{option}: the page says {stated}, --help {shown!r}"


@pytest.mark.parametrize("cmd", every_command())
def test_help_shows_the_default_of_every_option_that_has_one(cmd):
    assert "`--help` on each lists its options with their defaults" in " ".join(README.split())
    hidden = [p.opts[0] for p in cmd.params if isinstance(p, click.Option) and not p.hidden
              and not p.is_flag and p.default is not None and "UNSET" not in repr(p.default)
              and "default:" not in shown_default(cmd, p)]
    assert hidden == []


def written_commands(text: str) -> Iterator[tuple[str, list[str]]]:
    """(command words, option names) of each `detector …` or `producer …` command line in a
    page's code spans and code blocks, comments left out."""
    spans = re.findall(r"`([^`\n]+)`", text)
    blocks = [line for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M)
              for line in block.splitlines()]
    for piece in spans + blocks:
        for part in re.split(r"&&|\||;", piece.split(" #")[0]):
            words = [w.removeprefix(".venv/bin/") for w in part.split()]
            while words and words[0] not in PROGRAMS:
                words = words[1:]
            if len(words) < 2:
                continue
            found, i = PROGRAMS[words[0]], 1
            while isinstance(found, click.Group) and i < len(words) and words[i] in found.commands:
                found, i = found.commands[words[i]], i + 1
            if not isinstance(found, click.Group):
                options = [w.split("=")[0].rstrip(").,") for w in words[i:] if w.startswith("--")]
                yield " ".join(words[:i]), options


@pytest.mark.parametrize("page", [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))],
                         ids=lambda p: p.name)
def test_every_command_line_in_the_docs_uses_options_the_command_takes(page):
    wrong, seen = [], 0
    for words, options in written_commands(page.read_text()):
        cmd = command(words.split())
        taken = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
        wrong += [f"{words} {o}" for o in options if o not in taken | {"--help", "--version"}]
        seen += 1
    assert seen and not wrong, wrong
