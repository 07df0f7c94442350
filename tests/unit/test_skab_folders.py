"""`bench.quality.skab` and the streaming row (`bench.quality.lifecycle --part valves`) on SKAB's
whole `data/` folder: every labelled CSV found, one row or column per folder (`other` too), the
anomaly-free run left out (tiny fabricated CSVs and results, no training)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from bench.quality import lifecycle
from bench.quality.lookahead import by_folder
from bench.quality.skab import FileResult, labelled_files
from detector.offline.evaluate import quality

SENSORS = "datetime;Accelerometer1RMS;Current"
LABELLED = f"{SENSORS};anomaly;changepoint\n2020-03-09 10:14:33;0.02;1.33;0.0;0.0\n"
FILES = ["valve1/0.csv", "valve1/1.csv", "valve1/10.csv", "valve2/0.csv", "other/9.csv",
         "other/13.csv"]


def skab_data(root: Path) -> Path:
    """A data/ tree shaped like SKAB's: valve1, valve2, other and the anomaly-free run."""
    data = root / "data"
    for name in FILES:
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text(LABELLED, encoding="utf-8")
    (data / "anomaly-free").mkdir()
    (data / "anomaly-free" / "anomaly-free.csv").write_text(
        f"{SENSORS}\n2020-02-08 13:30:47;0.20;2.17\n", encoding="utf-8")
    return data


def result(name: str, truth: list[int], flagged: list[int]) -> FileResult:
    """One file's result as `run_file` gives it, without training anything."""
    return FileResult(name, np.array(truth, bool), np.zeros(len(truth)), np.array(flagged, bool),
                      calibrated=1.0, seconds=0.0)


def test_every_labelled_csv_under_data_is_found_in_natural_order(tmp_path):
    data = skab_data(tmp_path)
    found = [p.relative_to(data).as_posix() for p in labelled_files(data)]
    assert found == ["other/9.csv", "other/13.csv", "valve1/0.csv", "valve1/1.csv",
                     "valve1/10.csv", "valve2/0.csv"]


def test_the_summary_has_a_row_for_other_beside_the_valves_and_all(tmp_path):
    data = skab_data(tmp_path)
    results = []
    for path in labelled_files(data):
        name = path.relative_to(data).as_posix()
        if path.parent.name == "other":  # half the faults missed, no false alarm
            results.append(result(name, [1, 1, 0, 0], [1, 0, 0, 0]))
        else:
            results.append(result(name, [1, 0], [1, 0]))
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip()
            for line in by_folder(results, quality).splitlines() if line.startswith("| ")}
    assert list(rows) == ["files", "other (2 files)", "valve1 (3 files)", "valve2 (1 files)",
                          "all (6 files)"]
    assert rows["other (2 files)"] == "0.67 / 0.00 / 50.00"  # TP 2, FN 2, TN 4
    assert rows["valve1 (3 files)"] == "1.00 / 0.00 / 0.00"


def lifecycle_result(path: Path, truth: list[int], flagged: list[int]) -> dict:
    """One file's result as lifecycle's `one_file` gives it (labels hidden), without training."""
    return {"name": path, "truth": np.array(truth, bool), "plain": np.array(flagged, bool),
            "hidden": np.array(flagged, bool), "hidden versions": 1, "hidden seconds": 0.0,
            "hidden summary": "0 cycles"}


def fake_one_file(path: Path, *args, **kwargs) -> dict:
    """`other` misses half its faults, the valves none; no false alarm anywhere."""
    if path.parent.name == "other":
        return lifecycle_result(path, [1, 1, 0, 0], [1, 0, 0, 0])
    return lifecycle_result(path, [1, 0], [1, 0])


def printed_table(out: str) -> dict[str, list[str]]:
    """The streaming row's table as printed: its header row and each row by its name."""
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines()
            if line.startswith("| ")]
    return {row[0]: row[1:] for row in rows}


def test_the_streaming_row_has_an_other_column_and_counts_all_files(tmp_path, monkeypatch,
                                                                     capsys):
    data = skab_data(tmp_path)
    monkeypatch.setattr(lifecycle, "one_file", fake_one_file)
    monkeypatch.setattr(sys, "argv", ["lifecycle", "--folder", str(data), "--part", "valves",
                                      "--labels", "hidden"])
    lifecycle.main()
    out = capsys.readouterr().out
    assert "6 files of other, valve1 and valve2, F1 / FAR % / MAR % summed over files" in out
    rows = printed_table(out)
    assert rows[""] == ["other (2)", "valve1 (3)", "valve2 (1)", "all 6"]
    assert rows["without retraining"] == ["0.67 / 0.00 / 50.00", "1.00 / 0.00 / 0.00",
                                          "1.00 / 0.00 / 0.00", "0.86 / 0.00 / 25.00"]  # TP 6, FN 2
    assert "other/13.csv: 0 cycles" in out
    command = out.strip().splitlines()[-1]  # what to run again names the folder it ran on
    assert command.endswith(f"--labels hidden --jobs 1 --folder {data}")


def test_the_streaming_row_on_the_valves_alone_keeps_its_header(tmp_path):
    data = tmp_path / "skab-dev"
    results = [lifecycle_result(data / sub / f"{i}.csv", [1, 0], [1, 1])
               for sub, n in (("valve1", 16), ("valve2", 4)) for i in range(n)]
    printed = lifecycle.labelled_table(results, data, ["hidden"])
    assert printed.startswith("\n20 files of valve1 and valve2, F1 / FAR % / MAR % summed over "
                              "files\n\n|  | valve1 (16) | valve2 (4) | all 20 |\n")
