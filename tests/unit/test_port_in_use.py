"""The README's promise for a port in use, through the real commands in-process: every command
that serves /metrics, given a port another socket holds (by option or variable), ends with one
line naming the port and --metrics-port and exit status 2, before it reaches for the broker or
the model, and writes nothing."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.cli import main as detector
from producer.cli import main as producer

UNREACHABLE = "127.0.0.1:1"  # nothing listens there: a command that reached for it would say so
COMMANDS = {  # name: (program, arguments before --metrics-port, its variable or None)
    "detector serve": (detector, ["serve", "--model", "{dir}/model", "--bootstrap", UNREACHABLE,
                                  "--metrics-host", "127.0.0.1"], "DETECTOR_METRICS_PORT"),
    "detector retrain": (detector, ["retrain", "--model", "{dir}/model", "--bootstrap",
                                    UNREACHABLE, "--metrics-host", "127.0.0.1"],
                         "DETECTOR_METRICS_PORT"),
    "producer simulate": (producer, ["simulate", "--bootstrap", UNREACHABLE, "--count", "5"],
                          "PRODUCER_METRICS_PORT"),
    "producer replay": (producer, ["replay", "{dir}/rows.csv", "--bootstrap", UNREACHABLE], None),
}


@contextmanager
def held_port(listening: bool) -> Iterator[int]:
    """A port of 127.0.0.1 another socket holds, listening or only bound."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        if listening:
            holder.listen()
        yield holder.getsockname()[1]


@settings(max_examples=24, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(COMMANDS)), listening=st.booleans(),
       by_variable=st.booleans())
def test_a_port_in_use_is_one_line_naming_it_and_exit_2_before_any_work(
    name, listening, by_variable
):
    program, template, variable = COMMANDS[name]
    with tempfile.TemporaryDirectory() as tmp, held_port(listening) as port:
        folder = Path(tmp)
        (folder / "rows.csv").write_text("a,b\n1,2\n3,4\n")
        before = sorted(folder.iterdir())
        args = [word.format(dir=tmp) for word in template]
        env = {"DETECTOR_METRICS_PORT": None, "PRODUCER_METRICS_PORT": None}
        if by_variable and variable:
            env[variable] = str(port)
        else:
            args += ["--metrics-port", str(port)]
        result = CliRunner().invoke(program, args, env=env, prog_name=name.split()[0])
        assert sorted(folder.iterdir()) == before
    assert result.exit_code == 2, (result.output, result.exception)
    [line] = result.stderr.splitlines()
    assert line.startswith("error: cannot serve metrics on ") and f"{port} (" in line, line
    assert "in use" in line and "pass another --metrics-port" in line, line
