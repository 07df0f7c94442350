"""Bundles for the model tests, trained once per session with the project's own CLI."""

from pathlib import Path

import pytest

from tests.helpers.bundles import Bundles


@pytest.fixture(scope="session")
def bundles(trained_bundle: Bundles) -> dict[str, Path]:
    """Default bundles on 100,000 simulated normal readings, one per calibration method."""
    methods = ("pot", "quantile")
    made = trained_bundle.many(*(("--simulate", "100000", "--calibration", m) for m in methods))
    return dict(zip(methods, made, strict=True))
