"""Bad input through the real `score`, `evaluate` and `info` commands (in-process, CliRunner):
generated CSVs and labels, hand-edited bundle.json files. Each run ends with exit 0 and a whole,
correct output, or with exit 2, one `error:` line and nothing written; never a traceback."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import Result
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from detector.core.bundle import content_version, content_weights, load_arrays
from detector.stream.decode import Decoder
from shared.tables import LABEL_COLUMNS, read_csv
from shared.wire import label_truth
from tests.helpers.bundles import TINY, confusion_counts, run_cli
from tests.helpers.csv_cases import CHANNELS, CsvCase, csv_cases

SOME = settings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
WINDOW = 6


@pytest.fixture(scope="module")
def small(trained_bundle) -> Path:
    """A point-wise bundle trained briefly on simulated normal readings."""
    return trained_bundle(*TINY)


@pytest.fixture(scope="module")
def windowed(trained_bundle) -> Path:
    """A dense bundle with windows of 6 (the one the windows tests use)."""
    return trained_bundle(*TINY, "--architecture", "dense", "--window", str(WINDOW),
                          "--persistence", "2/3")


def refused(result: Result) -> bool:
    """Exit 2, nothing on stdout, one line on stderr and it says `error:`."""
    lines = result.stderr.strip().splitlines()
    return (result.exit_code == 2 and not result.stdout.strip() and len(lines) == 1
            and lines[0].startswith("error: "))


def only(folder: Path, *names: str) -> bool:
    """True when the folder holds exactly these names (no temporary leftovers)."""
    return sorted(p.name for p in folder.iterdir()) == sorted(names)


def check_scores(case: CsvCase, out: Path, meta: dict) -> None:
    """The scores CSV has every row of the input, and sound scored columns."""
    scored = read_csv(out)
    assert len(scored) == len(case.rows)
    assert list(scored.columns) == [*(n.strip() for n in case.header), "error", "score",
                                    "is_anomaly", "top_channel"]
    has = scored["error"].notna()
    assert has.any()
    error = scored.loc[has, "error"].to_numpy(dtype=float)
    assert np.isfinite(error).all() and (error >= 0).all()
    threshold = meta["calibration"]["threshold"]
    assert np.allclose(scored.loc[has, "score"] * threshold, error)
    assert set(scored["is_anomaly"].unique()) <= {0, 1}
    assert set(scored.loc[has, "top_channel"]) <= set(meta["channels"])
    if meta["window"] == 1:
        assert has.all()


@SOME
@given(case=csv_cases(), window=st.sampled_from([1, WINDOW]))
@example(case=CsvCase([*CHANNELS, "ts"], [["0"] * 6, ["0"] * 5]), window=1)  # a short last row
def test_score_writes_every_row_or_refuses_with_one_line(small, windowed, case, window):
    bundle = small if window == 1 else windowed
    meta = json.loads((bundle / "bundle.json").read_text())
    reason = case.refusal(CHANNELS, window)
    event(reason or "scored")
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data.csv", Path(tmp) / "scores.csv"
        data.write_bytes(case.data())
        result = run_cli("score", str(bundle), str(data), "--out", str(out))
        if reason is None:
            assert result.exit_code == 0, (result.output, case)
            check_scores(case, out, meta)
        else:
            assert refused(result), (reason, result.output, case)
            assert only(Path(tmp), "data.csv")


good_labels = st.sampled_from(["normal", "spike", "drift", "0", "1", "true", "false",
                               "anomaly", "Normal", "TRUE", " stuck "])
bad_labels = st.sampled_from(["yes", "no", "", "nan", "2", "-1", "0.5", "abnormal", "?"])


@st.composite
def labelled(draw: st.DrawFn) -> CsvCase:
    """A sound CSV of the simulator's channels with a label column, sometimes badly labelled."""
    rows = draw(st.integers(1, 12))
    cells = st.floats(-100, 200, allow_nan=False).map(lambda v: f"{v:.3f}")
    labels = good_labels if draw(st.booleans()) else st.one_of(good_labels, bad_labels)
    body = [[*(draw(cells) for _ in CHANNELS), draw(labels)] for _ in range(rows)]
    return CsvCase([*CHANNELS, "label"], body)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=labelled(), plots=st.booleans())
def test_evaluate_counts_every_row_or_names_the_labels_it_refuses(small, case, plots):
    labels = [row[-1] for row in case.rows]
    ok = all(label_truth(label) is not None for label in labels)
    event("counted" if ok else "refused")
    with tempfile.TemporaryDirectory() as tmp:
        data, folder = Path(tmp) / "data.csv", Path(tmp) / "plots"
        data.write_bytes(case.data())
        where = ["--plots", str(folder)] if plots else ["--no-plots"]
        result = run_cli("evaluate", str(small), str(data), *where)
        if not ok:
            assert refused(result), result.output
            assert only(Path(tmp), "data.csv")
            return
        assert result.exit_code == 0, result.output
        counts = confusion_counts(result.stdout)
        assert sum(counts.values()) == len(case.rows)
        truth = sum(bool(label_truth(label)) for label in labels)
        assert counts["tp"] + counts["fn"] == truth
        if plots:
            assert only(folder, "errors.png", "timeline.png", "loss.png")


def unlabelled(case: CsvCase) -> CsvCase:
    """The case without its label columns."""
    keep = [i for i, name in enumerate(case.header) if name.strip() not in LABEL_COLUMNS]
    return dataclasses.replace(case, header=[case.header[i] for i in keep],
                               rows=[[row[i] for i in keep if i < len(row)] for row in case.rows])


@SOME
@given(case=csv_cases().map(unlabelled), plots=st.booleans())
def test_evaluate_needs_a_label_column_where_score_flags_the_rows(small, case, plots):
    reason = case.refusal(CHANNELS)
    event(reason or "no label column")
    with tempfile.TemporaryDirectory() as tmp:
        data, folder = Path(tmp) / "data.csv", Path(tmp) / "plots"
        data.write_bytes(case.data())
        where = ["--plots", str(folder)] if plots else ["--no-plots"]
        result = run_cli("evaluate", str(small), str(data), *where)
        assert refused(result), (result.output, case)
        assert only(Path(tmp), "data.csv")
        if reason is None:
            assert "no label column (looked for" in result.stderr, result.stderr
            scored = run_cli("score", str(small), str(data), "--out", str(Path(tmp) / "s.csv"))
            assert scored.exit_code == 0, scored.output
            check_scores(case, Path(tmp) / "s.csv", json.loads((small / "bundle.json").read_text()))


FIELDS = ["format", "version", "channels", "window", "architecture.window",
          "architecture.activation", "architecture.hidden", "architecture.kind", "scale.std",
          "scale.mean", "scale.std.0", "calibration.threshold", "calibration.method",
          "calibration.target_far", "persistence", "persistence.n", "persistence.k",
          "channels.0", "training", "training.source", "training.rows"]
odd = st.one_of(st.none(), st.booleans(), st.integers(-3, 30), st.floats(), st.text(max_size=6),
                st.lists(st.integers(0, 3), max_size=3), st.just({"k": 2, "n": 3}))


def edited(meta: dict, path: str, value: object, drop: bool) -> dict:
    """A copy of meta with the field at the dotted path replaced (or dropped)."""
    meta = json.loads(json.dumps(meta))
    *parents, last = path.split(".")
    node = meta
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    key = int(last) if isinstance(node, list) else last
    if drop and isinstance(node, dict):
        node.pop(key, None)
    else:
        node[key] = value
    return meta


def same_content(before: dict, after: dict, arrays: dict) -> bool:
    """True when the edit leaves the content its version hashes (and a sound training dict)."""
    training = after.get("training", {})
    return (content_version(content_weights(arrays), after) == before["version"]
            and after.get("version") == before["version"] and isinstance(training, dict))


@SOME
@given(field=st.sampled_from(FIELDS), value=odd, drop=st.booleans())
def test_a_hand_edited_bundle_json_is_refused_unless_its_content_is_unchanged(
    small, field, value, drop
):
    meta = json.loads((small / "bundle.json").read_text())
    after = edited(meta, field, value, drop)
    expected_ok = same_content(meta, after, load_arrays(small))
    event("unchanged" if expected_ok else "edited")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "bundle"
        shutil.copytree(small, copy)
        (copy / "bundle.json").write_text(json.dumps(after))
        data = Path(tmp) / "data.csv"
        data.write_text(",".join(CHANNELS) + "\n10,90,10,90,10\n50,50,50,50,50\n")
        for args in (["info", str(copy)], ["score", str(copy), str(data), "--out",
                                           str(Path(tmp) / "s.csv")]):
            result = run_cli(*args)
            if expected_ok:
                assert result.exit_code == 0, (field, value, result.output)
            else:
                assert refused(result), (field, value, result.output)
                assert "bundle.json" in result.stderr or "weights.npz" in result.stderr
        assert (Path(tmp) / "s.csv").exists() == expected_ok


@pytest.mark.parametrize("text", ["", "{", "[]", "null", '{"format": 1}', "{" * 5000, "\xff"])
def test_a_bundle_json_that_is_not_a_bundle_is_refused(small, tmp_path, text):
    copy = tmp_path / "bundle"
    shutil.copytree(small, copy)
    (copy / "bundle.json").write_text(text, errors="surrogateescape")
    assert refused(run_cli("info", str(copy)))


def test_the_model_file_must_hold_the_weights_the_version_covers(small, windowed, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(small, copy)
    shutil.copy(windowed / "weights.npz", copy / "weights.npz")
    result = run_cli("info", str(copy))
    assert refused(result) and "weights.npz does not match" in result.stderr


def test_a_window_bundle_on_fewer_rows_than_its_window_says_to_pass_history(windowed, tmp_path):
    data = tmp_path / "few.csv"
    data.write_text(",".join(CHANNELS) + "\n" + "10,90,10,90,10\n" * (WINDOW - 1))
    for command in (["score", "--out", str(tmp_path / "s.csv")], ["evaluate", "--no-plots"]):
        result = run_cli(command[0], str(windowed), str(data), *command[1:])
        assert refused(result) and "--history" in result.stderr
    assert only(tmp_path, "few.csv")


def test_a_huge_finite_value_meets_the_same_rule_offline_and_online(small, tmp_path):
    data = tmp_path / "huge.csv"
    data.write_text(",".join(CHANNELS) + "\n10,90,10,90,10\n50,1e300,50,50,50\n")
    result = run_cli("score", str(small), str(data), "--out", str(tmp_path / "s.csv"))
    assert refused(result) and "row 2" in result.stderr and "col_2" in result.stderr
    reading = {"device": "d", "seq": 1, "ts": 1.0, "values": [50, 1e300, 50, 50, 50]}
    [rejection] = Decoder(CHANNELS).decode([json.dumps(reading).encode()]).rejected
    assert rejection.reason == "non_finite"


def test_evaluate_on_one_labelled_row_reports_and_plots(small, tmp_path):
    data = tmp_path / "one.csv"
    data.write_text(",".join([*CHANNELS, "label"]) + "\n10,90,10,90,10,normal\n")
    result = run_cli("evaluate", str(small), str(data), "--plots", str(tmp_path / "p"))
    assert result.exit_code == 0, result.output
    assert only(tmp_path / "p", "errors.png", "timeline.png", "loss.png")


def test_unwritable_outputs_are_refused_before_the_work(small, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text(",".join(CHANNELS) + "\n10,90,10,90,10\n")
    (tmp_path / "f").write_text("a file")
    for out in (tmp_path / "nope" / "s.csv", tmp_path / "f" / "s.csv", tmp_path, data):
        assert refused(run_cli("score", str(small), str(data), "--out", str(out)))
    for plots in (tmp_path / "f", tmp_path / "f" / "plots", Path("/proc/plots")):
        assert refused(run_cli("evaluate", str(small), str(data), "--plots", str(plots)))
    assert only(tmp_path, "data.csv", "f")
    frame = pd.read_csv(data)
    assert len(frame) == 1
