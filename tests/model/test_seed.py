"""The seed reproduced with the README's commands: its data, its architecture, its error."""

import numpy as np
import pandas as pd
from click.testing import CliRunner

from detector.core.bundle import load_bundle
from producer.cli import main as producer
from tests.helpers.bundles import run_cli


def test_the_default_model_fits_the_seed_data_and_flags_the_broken_reading(tmp_path):
    seed, model = tmp_path / "seed.csv", tmp_path / "seed"
    made = CliRunner().invoke(producer, ["seed-data", "--output", str(seed)])
    assert made.exit_code == 0, made.output
    result = run_cli("train", str(seed), "--out", str(model))
    assert result.exit_code == 0, result.output
    assert load_bundle(model).meta["architecture"]["hidden"] == [5, 2]

    scores = tmp_path / "scores.csv"
    result = run_cli("score", str(model), str(seed), "--out", str(scores), "--reconstruction")
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(scores)
    channels = [f"col_{i}" for i in range(1, 6)]
    rebuilt = scored[[f"rec_{c}" for c in channels]].to_numpy()
    mse = np.mean((scored[channels].to_numpy() - rebuilt) ** 2)
    assert mse <= 0.8
    assert f"reconstruction MSE {mse:.4f}" in result.output
    assert scored["is_anomaly"].sum() == 0

    broken = tmp_path / "broken.csv"
    broken.write_text(",".join(channels) + "\n10,1000,10,1000,10\n")
    result = run_cli("score", str(model), str(broken), "--out", str(scores))
    assert result.exit_code == 0, result.output
    row = pd.read_csv(scores).iloc[0]
    assert row["is_anomaly"] == 1 and row["score"] > 1000
