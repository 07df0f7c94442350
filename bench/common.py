"""Helpers shared by the benchmarks: timing the project's commands, tables.

The processes, the broker and the bundles come from the tests' helpers (tests/helpers/).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def run(*args: str, quiet: bool = True) -> float:
    """Run a command of the project (e.g. "detector", "score", ...); its wall time in seconds."""
    command = [str(BIN / args[0]), *args[1:]]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=quiet, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr if quiet else ''}")
    return elapsed


def table(rows: list[tuple], header: tuple) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
