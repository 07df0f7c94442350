"""The offline CLI as a user meets it: repeatable training, scoring, evaluation, clear errors."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.helpers.bundles import TINY, run_cli, simulated_csv


def test_same_command_same_seed_same_version(tmp_path):
    versions = []
    for name in ("a", "b"):
        result = run_cli("train", *TINY, "--seed", "3", "--out", str(tmp_path / name))
        assert result.exit_code == 0, result.output
        versions.append(json.loads((tmp_path / name / "bundle.json").read_text())["version"])
    other = run_cli("train", *TINY, "--seed", "4", "--out", str(tmp_path / "c"))
    assert other.exit_code == 0
    assert versions[0] == versions[1]
    assert json.loads((tmp_path / "c" / "bundle.json").read_text())["version"] != versions[0]


def test_score_adds_columns_to_every_row_and_evaluate_reports_and_plots(bundles, tmp_path):
    frame = simulated_csv(tmp_path / "data.csv")
    out = tmp_path / "scores.csv"
    result = run_cli("score", str(bundles["pot"]), str(tmp_path / "data.csv"), "--out", str(out))
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out)
    assert len(scored) == len(frame)
    assert list(scored.columns[-4:]) == ["error", "score", "is_anomaly", "top_channel"]
    spikes = scored[scored["label"] == "spike"]
    assert spikes["is_anomaly"].all()
    assert np.allclose(
        scored["score"]
        * json.loads((bundles["pot"] / "bundle.json").read_text())["calibration"]["threshold"],
        scored["error"],
    )

    plots = tmp_path / "plots"
    result = run_cli(
        "evaluate", str(bundles["pot"]), str(tmp_path / "data.csv"), "--plots", str(plots)
    )
    assert result.exit_code == 0, result.output
    for figure in ("precision", "recall", "f1", "far", "mar", "recall spike"):
        assert figure in result.output
    assert {p.name for p in plots.iterdir()} == {"errors.png", "timeline.png", "loss.png"}


def test_info_says_what_the_bundle_holds(bundles):
    result = run_cli("info", str(bundles["pot"]))
    assert result.exit_code == 0
    meta = json.loads((bundles["pot"] / "bundle.json").read_text())
    assert meta["version"] in result.output and "col_1, col_2" in result.output
    assert "pot" in result.output
    whole = run_cli("info", str(bundles["pot"]), "--json")
    assert whole.exit_code == 0 and json.loads(whole.stdout) == meta


def bad_csv(tmp_path, kind):
    path = tmp_path / f"{kind}.csv"
    rows = "\n".join(f"{i},{100 - i},{i}" for i in range(200))
    texts = {
        "nan": "a,b,c\n" + rows + "\n1,nan,3\n",
        "text": "a,b,c\n" + rows + "\n1,two,3\n",
        "few": "a,b,c\n1,2,3\n4,5,6\n",
        "no_channels": "ts,anomaly\n" + "\n".join(f"{i},0" for i in range(200)),
    }
    path.write_text(texts[kind])
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("nan", "has 1 empty, NaN or infinite cells"),
        ("text", "is not numeric"),
        ("few", "too few to train"),
        ("no_channels", "no channel columns"),
    ],
)
def test_bad_training_data_exits_2_with_one_line_and_no_bundle(tmp_path, kind, message):
    result = run_cli("train", str(bad_csv(tmp_path, kind)), "--out", str(tmp_path / "model"))
    assert result.exit_code == 2
    assert message in result.output
    assert result.output.strip().count("\n") == 0
    assert not (tmp_path / "model").exists()


def test_missing_or_corrupt_bundle_and_mismatched_csv_exit_2(bundles, tmp_path):
    data = tmp_path / "data.csv"
    simulated_csv(data, count=400)
    missing = run_cli("score", str(tmp_path / "nope"), str(data), "--out", str(tmp_path / "o.csv"))
    assert missing.exit_code == 2 and "not found" in missing.output

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "bundle.json").write_text("{not json")
    result = run_cli("info", str(corrupt))
    assert result.exit_code == 2 and "corrupt" in result.output

    broken_model = tmp_path / "broken_model"
    broken_model.mkdir()
    (broken_model / "bundle.json").write_text((bundles["pot"] / "bundle.json").read_text())
    (broken_model / "model.keras").write_bytes(b"garbage")
    result = run_cli("info", str(broken_model))
    assert result.exit_code == 2 and "model.keras is corrupt" in result.output

    other = tmp_path / "other.csv"
    pd.DataFrame({"x": np.arange(10.0), "y": np.arange(10.0)}).to_csv(other, index=False)
    result = run_cli("score", str(bundles["pot"]), str(other), "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 2
    assert "lacks channel(s) col_1" in result.output
    assert not (tmp_path / "o.csv").exists()
