"""Bundles trained once per session with the project's own CLI (TensorFlow, no services)."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from detector.cli import main


def run_cli(*args: str):
    """Run `detector ARGS` in-process; the click Result (exit_code, output, stderr)."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="session")
def bundles(tmp_path_factory) -> dict[str, Path]:
    """Default bundles on 100,000 simulated normal readings, one per calibration method."""
    root = tmp_path_factory.mktemp("bundles")
    made = {}
    for method in ("pot", "quantile"):
        out = root / method
        result = run_cli(
            "train", "--simulate", "100000", "--calibration", method, "--out", str(out)
        )
        assert result.exit_code == 0, result.output
        made[method] = out
    return made
