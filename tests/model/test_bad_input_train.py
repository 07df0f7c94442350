"""Bad input to `detector train` (generated option values, output folders and CSVs), and the
commands as processes: exit status 2, one line on stderr, no traceback, TensorFlow not even
imported for a refusal, and none of its log lines by default."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from detector.core.bundle import load_bundle
from tests.helpers import REPO
from tests.helpers.bundles import run_cli
from tests.helpers.csv_cases import CsvCase

# Each option: values that train quickly, values that must be refused before any work.
OPTIONS = {
    "--epochs": (["1", "2"], ["0", "-1", "10001", "x", "1.5"]),
    "--simulate": (["400", "1000"], ["-10", "0", "99", "5000001", "1e9"]),
    "--window": (["1", "3"], ["0", "-2", "1001", "two"]),
    "--hidden": (["4,2", "3"], ["0", "5,abc", "5000", "", ",", ",".join(["2"] * 17)]),
    "--activation": (["linear", "tanh"], ["banana", "LINEAR", ""]),
    "--target-far": (["0.01", "0.001"], ["1.5", "0", "0.5", "nan", "-0.1", "inf"]),
    "--holdout": (["0.3", "0.5"], ["0", "1", "1.5", "nan"]),
    "--margin": (["1", "1.5"], ["0.5", "101", "inf", "nan"]),
    "--persistence": (["1/1", "2/3"], ["1/1000000000", "4/3", "0/1", "x", "3", "1/1001"]),
    "--calibration": (["pot", "quantile"], ["median"]),
    "--slow-channels": (["keep"], ["centred", "", "CENTRE"]),
    "--combine": (["mean", "max"], ["sum", ""]),
    "--seed": (["0", "5"], ["-1", "4294967296", "s"]),
}
OUTS = ["new", "nested/new", "bundle", "empty", "other files", "parent is a file", "proc"]


def refused(result) -> bool:
    """Exit 2, one `error:` line on stderr, nothing on stdout."""
    lines = result.stderr.strip().splitlines()
    return (result.exit_code == 2 and not result.stdout.strip() and len(lines) == 1
            and lines[0].startswith("error: "))


@st.composite
def option_sets(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """Command-line options, and the names of those given a value that must be refused."""
    some = st.lists(st.sampled_from(sorted(OPTIONS)), min_size=1, max_size=2, unique=True)
    bad = draw(st.one_of(st.just([]), some))
    args = []
    for name, (good, wrong) in OPTIONS.items():
        if name in bad or name in ("--simulate", "--epochs") or draw(st.booleans()):
            args += [name, draw(st.sampled_from(wrong if name in bad else good))]
    return args, bad


def out_path(kind: str, root: Path, bundle: Path) -> Path:
    """An --out folder of the given kind under root."""
    (root / "afile").write_text("x")
    if kind == "bundle":
        (root / "old").mkdir()
        for part in bundle.iterdir():
            (root / "old" / part.name).write_bytes(part.read_bytes())
        return root / "old"
    if kind in ("empty", "other files"):
        (root / "mine").mkdir()
        if kind == "other files":
            (root / "mine" / "notes.txt").write_text("keep me")
        return root / "mine"
    return {"new": root / "model", "nested/new": root / "a" / "b" / "model",
            "parent is a file": root / "afile" / "model", "proc": Path("/proc/model")}[kind]


@settings(max_examples=14, deadline=None, suppress_health_check=list(HealthCheck))
@given(options=option_sets(), kind=st.sampled_from(OUTS))
def test_train_options_and_out_folders_give_a_whole_bundle_or_one_line(
    trained_bundle, options, kind
):
    args, bad = options
    bad_out = kind in ("other files", "parent is a file", "proc")
    event("trained" if not bad and not bad_out else "refused")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        out = out_path(kind, root, trained_bundle("--simulate", "400", "--epochs", "1"))
        before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        result = run_cli("train", *args, "--out", str(out))
        if bad or bad_out:
            assert refused(result), (args, kind, result.output)
            assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == before
            return
        assert result.exit_code == 0, (args, kind, result.output)
        meta = load_bundle(out).meta
        assert meta["training"]["epochs_run"] >= 1 and meta["channels"][0] == "col_1"
        assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]


@st.composite
def training_csvs(draw: st.DrawFn) -> tuple[CsvCase, str]:
    """A CSV of three noisy channels, sometimes with one flaw; the flaw."""
    rows = draw(st.integers(50, 120))
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    values = rng.normal(50, 10, size=(rows, 3)).round(3).astype(str).tolist()
    header = ["a", "b", "c"]
    flaw = draw(st.sampled_from(["none", "none", "none", "constant", "all constant", "bad cell",
                                 "no header", "duplicate", "few rows", "huge"]))
    if flaw == "constant":
        for row in values:
            row[1] = "5"
    elif flaw == "all constant":
        values = [["1", "2", "3"] for _ in values]
    elif flaw == "bad cell":
        values[draw(st.integers(0, rows - 1))][0] = draw(st.sampled_from(["", "nan", "x", "inf"]))
    elif flaw == "no header":
        header = values.pop(0)
    elif flaw == "duplicate":
        header = ["a", "b", "a"]
    elif flaw == "few rows":
        values = values[:draw(st.integers(1, 40))]
    elif flaw == "huge":
        values[-1][2] = "1e300"
    return CsvCase(header, values), flaw


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(made=training_csvs())
def test_train_on_a_csv_writes_a_bundle_of_its_channels_or_refuses_and_leaves_nothing(made):
    case, flaw = made
    event(flaw)
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data.csv", Path(tmp) / "model"
        data.write_bytes(case.data())
        result = run_cli("train", str(data), "--epochs", "1", "--out", str(out))
        if flaw != "none":
            assert refused(result), (flaw, result.output)
            assert sorted(p.name for p in Path(tmp).iterdir()) == ["data.csv"]
            return
        assert result.exit_code == 0, result.output
        assert load_bundle(out).channels == ["a", "b", "c"]


def run(*args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m ARGS` (or `python -c CODE`) from the repository, to its end."""
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300,
                          check=False)


def test_refusals_end_the_process_with_status_2_and_one_line(trained_bundle, tmp_path):
    bundle = trained_bundle("--simulate", "400", "--epochs", "1")
    headerless, edited = tmp_path / "nohead.csv", tmp_path / "edited"
    headerless.write_text("1,2,3,4,5\n6,7,8,9,10\n")
    edited.mkdir()
    for part in bundle.iterdir():
        (edited / part.name).write_bytes(part.read_bytes())
    meta = json.loads((edited / "bundle.json").read_text())
    meta["calibration"]["threshold"] *= 2
    (edited / "bundle.json").write_text(json.dumps(meta))
    cases = [
        ("detector", "train", "--simulate", "-10", "--out", str(tmp_path / "m")),
        ("detector", "train", "--simulate", "400", "--persistence", "1/1000000000", "--out",
         str(tmp_path / "m")),
        ("detector", "score", str(bundle), str(headerless), "--out", str(tmp_path / "s.csv")),
        ("detector", "info", str(edited)),
        ("producer", "seed-data", "--output", str(tmp_path / "missing" / "seed.csv")),
    ]
    for args in cases:
        done = run(*args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (
            args, done.stderr)
        assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edited", "nohead.csv"]


def test_options_outputs_and_inputs_are_checked_before_tensorflow_is_imported(tmp_path):
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("a,b\n" + "1,2\n" * 100)
    (tmp_path / "f").write_text("x")
    calls = [
        ["train", "--simulate", "3000", "--target-far", "1.5", "--out", str(tmp_path / "m")],
        ["train", "--simulate", "3000", "--out", str(tmp_path / "f" / "m")],
        ["train", str(bad_csv), "--out", str(tmp_path / "m")],
    ]
    code = (
        "import sys\nfrom detector.cli import main\n"
        f"for args in {calls!r}:\n"
        "    try:\n        main(args)\n    except SystemExit as exc:\n"
        "        assert exc.code == 2, args\n"
        "print('tensorflow' in sys.modules)\n"
    )
    done = run(code=code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    assert len(done.stderr.strip().splitlines()) == len(calls)


def test_training_is_quiet_by_default(tmp_path):
    done = run("detector", "train", "--simulate", "400", "--epochs", "2", "--out",
               str(tmp_path / "m"))
    assert done.returncode == 0, done.stderr
    ours = ("loading TensorFlow", "training on ", "training: ", "stopped early", "threshold ",
            "trained in ")
    assert [line for line in done.stderr.splitlines()
            if line.strip() and not line.startswith(ours)] == []


@pytest.mark.parametrize("value", ["debug", "DEBUG", "error"])
def test_log_level_is_an_option_of_every_offline_command(value):
    for command in ("train", "score", "evaluate", "info"):
        assert "--log-level" in run_cli(command, "--help").output
    assert run_cli("info", "--log-level", value, "/nonexistent/bundle").exit_code == 2
