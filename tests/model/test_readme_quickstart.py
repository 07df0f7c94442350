"""The README's offline quick start, run as written (after `make install`) in an empty folder:
every command succeeds and the evaluation it ends with finds the simulator's anomalies."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

from tests.helpers import REPO

HEADING = "### Offline: your own CSV, no Kafka"


def quickstart_commands() -> list[list[str]]:
    """The commands of the README's offline quick start, `make install` left out (the tests run
    in the installed environment), each `.venv/bin/TOOL` as `python -m TOOL`."""
    text = (REPO / "README.md").read_text()
    block = re.search(re.escape(HEADING) + r".*?```sh\n(.*?)```", text, re.S)
    assert block, f"README has no {HEADING!r} section with a sh block"
    commands = []
    for line in block[1].splitlines():
        words = shlex.split(line, comments=True)
        if not words or words[:2] == ["make", "install"]:
            continue
        tool = words[0].removeprefix(".venv/bin/")
        assert tool in ("producer", "detector"), line
        commands.append([sys.executable, "-m", tool, *words[1:]])
    return commands


def test_the_offline_quick_start_works_as_written(tmp_path):
    commands = quickstart_commands()
    assert [c[3] for c in commands] == ["simulate", "train", "score", "evaluate"]
    outputs = []
    for command in commands:
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                              timeout=1800, check=False,
                              env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
                                   "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"})
        assert done.returncode == 0, f"{shlex.join(command[2:])}:\n{done.stderr[-2000:]}"
        outputs.append(done.stdout + done.stderr)
    assert "labelled anomalous" in outputs[1]  # train says it left the anomalies out
    figures = dict(re.findall(r"^(recall|far)\s+([\d.]+)", outputs[3], re.M))
    assert float(figures["recall"]) > 0.7 and float(figures["far"]) < 1.0, outputs[3]
    assert {p.name for p in (tmp_path / "evaluation").iterdir()} >= {"timeline.png"}
