"""The seed reproduced: its data, its architecture, its error, and what it missed."""

import numpy as np

from detector.bundle import load_bundle
from detector.scoring import Scorer
from producer.signal import seed_sequences
from tests.model.conftest import run_cli


def test_the_default_model_fits_the_seed_data_and_flags_the_broken_reading(tmp_path):
    data = seed_sequences()
    csv = tmp_path / "seed.csv"
    csv.write_text(
        "col_1,col_2,col_3,col_4,col_5\n" + "\n".join(",".join(map(str, r)) for r in data)
    )
    result = run_cli("train", str(csv), "--out", str(tmp_path / "seed"))
    assert result.exit_code == 0, result.output
    bundle = load_bundle(tmp_path / "seed")
    assert bundle.meta["architecture"]["hidden"] == [5, 2]
    scorer = Scorer(bundle)
    reconstruction = scorer.score(data).reconstruction
    assert np.mean((reconstruction - data) ** 2) <= 0.8
    broken = scorer.score(np.array([[10.0, 1000.0, 10.0, 1000.0, 10.0]]))
    assert broken.is_anomaly[0] and broken.score[0] > 1000
