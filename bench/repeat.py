"""Run test files again and again, each time in a fresh pytest process: how many runs pass.

    .venv/bin/python -m bench.repeat [--runs 20] tests/integration/test_serve_warmup.py ...

A test that passes only most of the time is a defect; this counts, run by run, and keeps the
output of every failed run under `--keep` (default /tmp/repeat) for reading.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import REPO


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tests", nargs="+", help="test files or node ids")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", type=Path, default=Path("/tmp/repeat"))
    args = parser.parse_args()
    args.keep.mkdir(parents=True, exist_ok=True)
    passed = 0
    for run in range(1, args.runs + 1):
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 *args.tests], cwd=REPO, capture_output=True, text=True,
                                check=False)
        last = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
        if result.returncode == 0:
            passed += 1
        else:
            (args.keep / f"run-{run}.log").write_text(result.stdout + result.stderr)
        print(f"run {run:2d}: {last}  ({time.monotonic() - started:.0f} s)", flush=True)
    print(f"{passed} of {args.runs} runs passed")
    sys.exit(0 if passed == args.runs else 1)


if __name__ == "__main__":
    main()
