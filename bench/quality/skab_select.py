"""Research (issue 28): detectors beside the AE, or its decision, chosen leave one folder out.

    nice -n 19 .venv/bin/python -m bench.quality.skab_select [FOLDER] [--cache FILE.npz]
        [--round 1|2|3|4] [--ensemble CACHE,CACHE,...]

The protocol is written in bench/RESULTS.md ("issue 28, the selection protocol"). Per file (and
per protocol-shaped piece of the anomaly-free run): the incumbent AE (`bench.quality.skab`'s
`CENTRED_TRAIN_ARGS`, its default until round 7) is trained on the first 400 rows in this
process, so TensorFlow loads once; its errors on the fitting, held-out and all windows are kept
(`--cache` stores them), and the subspace statistics of bench/quality/subspace.py are computed
on the same windows. Each candidate flags a row when any of its scores exceeds its own
threshold (each at the budget / k), then persistence 5/10. Round 4 adds no score: it flags the
AE's own error by a CUSUM (bench/quality/cusum.py) in place of persistence, and averages the
errors of the models whose caches `--ensemble` names (each cache written by this command with
`--train-args "… --seed N"`). Prints every candidate per folder and on the anomaly-free run, the
two directions' choices and the verdict.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from functools import partial
from pathlib import Path

import numpy as np

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import table
from bench.quality.cusum import fit_cusum
from bench.quality.similarity import nearest_state
from bench.quality.skab import CENTRED_TRAIN_ARGS, DEFAULT_FOLDER, TRAIN_ROWS, labelled_files
from bench.quality.skab_normal import piece_frames
from bench.quality.steps import spread_scores, step_scores
from bench.quality.subspace import fit_subspace, level_scores, threshold
from detector.core.alarm import parse_persistence, persist
from detector.core.calibration import calibrate
from detector.core.windows import windows_by_device
from detector.offline.data_checks import split_rows
from detector.offline.evaluate import Quality, quality
from shared.tables import read_csv

WINDOW, BUDGET, RULE = 20, 0.01, "5/10"
LABELS = ("datetime", "anomaly", "changepoint")
INCUMBENT = {"incumbent (AE alone)": ("", ())}
ROUNDS = {  # the candidates of each round of the protocol (bench/RESULTS.md, issue 28)
    1: INCUMBENT | {f"AE + {inputs} {' and '.join(stats)}": (inputs, stats)
                    for inputs in ("all", "fast") for stats in (("q",), ("t2",), ("q", "t2"))},
    2: INCUMBENT | {f"AE + {inputs} nearest": (inputs, ("nearest",)) for inputs in ("all", "fast")},
    3: INCUMBENT | {"AE + " + " + ".join(parts): ("steps", parts) for parts in (
        ("slow step",), ("all step",), ("fast spread",), ("slow step", "fast spread"),
        ("all step", "fast spread"))},
    4: INCUMBENT | {" + ".join(filter(None, (models, rule))): ("decision", (models != "", share))
                    for models in ("", "ensemble of 3")
                    for rule, share in (("", 0.0), ("CUSUM 1/2", 0.5), ("CUSUM 1/4", 0.25))
                    if models or rule},
}


def train_bundle(frame, train_args: list[str], tmp: Path):
    """The AE trained on the frame's first rows by `detector train` in this process (its
    bundle in `tmp`), loaded."""
    from click.testing import CliRunner

    from detector.cli import main
    from detector.core.bundle import load_bundle

    channels = [c for c in frame.columns if c not in LABELS]
    train = tmp / "train.csv"
    frame[channels].iloc[:TRAIN_ROWS].to_csv(train, index=False)
    done = CliRunner().invoke(main, ["train", str(train), "--out", str(tmp / "b"), *train_args])
    if done.exit_code:
        sys.exit(done.output)
    return load_bundle(tmp / "b")


def ae_errors(frame, train_args: list[str], tmp: Path) -> dict[str, np.ndarray]:
    """The incumbent AE trained on the first rows by `detector train` in this process: its errors
    on the fitting, held-out and every window (NaN before the first), and its slow channels."""
    return window_errors(train_bundle(frame, train_args, tmp), frame)


def window_errors(bundle, frame) -> dict[str, np.ndarray]:
    """A trained bundle's errors on the frame's fitting, held-out and every window (NaN before
    the first), with the frame's values and the bundle's slow channels."""
    from detector.core.scoring import Scorer

    channels = [c for c in frame.columns if c not in LABELS]
    scorer = Scorer(bundle)
    values = frame[channels].to_numpy(dtype=float)
    cut = split_rows(TRAIN_ROWS, 0.3)
    windows, rows = windows_by_device(values, WINDOW)
    error = np.full(len(values), np.nan)
    error[rows] = scorer.score(windows).error
    return {"values": values, "error": error, "slow": np.asarray(bundle.centred, dtype=bool),
            "fit": scorer.score(windows_by_device(values[:cut], WINDOW)[0]).error,
            "held": scorer.score(windows_by_device(values[cut:TRAIN_ROWS], WINDOW)[0]).error,
            "bundle_threshold": np.asarray(bundle.threshold)}  # fmt: skip


def datasets(folder: Path, train_args: list[str]) -> dict[str, dict]:
    """Every labelled file and every anomaly-free piece: its truth and the AE's errors."""
    frames = {str(p.relative_to(folder)): read_csv(p) for p in labelled_files(folder)}
    normal = read_csv(folder / "anomaly-free" / "anomaly-free.csv")
    for i, piece in enumerate(piece_frames(normal)):
        frames[f"anomaly-free/{i}"] = piece
    stored = {}
    for name, frame in frames.items():
        with tempfile.TemporaryDirectory(prefix="skab-select-") as tmp:
            stored[name] = ae_errors(frame, train_args, Path(tmp))
        stored[name]["truth"] = frame["anomaly"].to_numpy() > 0
        print(".", end="", flush=True)
    print()
    return stored


def step_columns(f: dict, parts: tuple[str, ...]) -> list[tuple[np.ndarray, ...]]:
    """Round 3's scores a file has (a step over no slow channel is absent), or round 1's `q` and
    `t2` (round 8): each score's fitting, held-out and every-row values (NaN before its first)."""
    cut, n = split_rows(TRAIN_ROWS, 0.3), len(f["values"])
    out = []
    for part in parts:
        inputs, stat = part.split()
        mask = {"all": np.ones_like(f["slow"]), "slow": f["slow"], "fast": ~f["slow"]}[inputs]
        values = f["values"][:, mask]
        if not mask.any():
            continue
        score = {"step": step_scores, "spread": spread_scores}.get(stat) or partial(level_scores,
                                                                                   stat)
        got = score(values[:cut], WINDOW, values[cut:TRAIN_ROWS], values)
        if got is None:
            continue
        column = np.full(n, np.nan)
        column[n - len(got[2]):] = got[2]
        out.append((got[0], got[1], column))
    return out


def scores(f: dict, inputs: str, stats: tuple[str, ...]) -> list[tuple[np.ndarray, float]]:
    """Each score of a candidate over every row (NaN before a window) and its own threshold."""
    if inputs == "steps":
        extra = step_columns(f, stats)
        k = 1 + len(extra)
        ae = calibrate(f["held"], "pot", BUDGET / k, 1.0, WINDOW, f["fit"], gap_power=1.0)
        return [(f["error"], ae.threshold), *((column, threshold(fit, held, BUDGET / k, WINDOW))
                                              for fit, held, column in extra)]
    k = 1 + len(stats)
    ae = calibrate(f["held"], "pot", BUDGET / k, 1.0, WINDOW, f["fit"], gap_power=1.0).threshold
    out = [(f["error"], ae)]
    if not stats:
        return out
    values = f["values"] if inputs == "all" else f["values"][:, ~f["slow"]]
    cut = split_rows(TRAIN_ROWS, 0.3)
    fit_levels = windows_by_device(values[:cut], WINDOW)[0].mean(axis=1)
    held_levels = windows_by_device(values[cut:TRAIN_ROWS], WINDOW)[0].mean(axis=1)
    windows, rows = windows_by_device(values, WINDOW)
    levels = windows.mean(axis=1)
    if stats == ("nearest",):
        fit, held, every = ({"nearest": s} for s in
                            nearest_state(fit_levels, WINDOW, held_levels, levels))
    else:
        space = fit_subspace(fit_levels)
        fit, held, every = (space.statistics(x) for x in (fit_levels, held_levels, levels))
    for stat in stats:
        column = np.full(len(values), np.nan)
        column[rows] = every[stat]
        out.append((column, threshold(fit[stat], held[stat], BUDGET / k, WINDOW)))
    return out


def flags(f: dict, candidate: tuple[str, tuple[str, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """A candidate's flags of the test rows, and which rows the AE alone would have put above."""
    if candidate[0] == "decision" and candidate[1][1]:
        above = np.nan_to_num(f["error"], nan=0.0) > scores(f, "", ())[0][1]
        rule = fit_cusum(f["fit"], f["held"], candidate[1][1], BUDGET, WINDOW)
        return rule.flags(f["error"])[TRAIN_ROWS:], above[TRAIN_ROWS:]
    if candidate[0] == "decision":
        candidate = ("", ())
    each = [np.nan_to_num(s, nan=0.0) > t for s, t in scores(f, *candidate)]
    flagged = persist(np.any(each, axis=0), parse_persistence(RULE))
    return flagged[TRAIN_ROWS:], each[0][TRAIN_ROWS:]


def totals(stored: dict[str, dict], candidate) -> dict[str, Quality]:
    """A candidate's counts per folder (valve1, valve2, anomaly-free) and over the 20 files."""
    out: dict[str, Quality] = {}
    for name, f in stored.items():
        q = quality(f["truth"][TRAIN_ROWS:], flags(f, candidate)[0])
        group = name.split("/")[0]
        out[group] = out.get(group, Quality(0, 0, 0, 0)) + q
        if group != "anomaly-free":
            out["all 20"] = out.get("all 20", Quality(0, 0, 0, 0)) + q
    return out


def key(q: Quality) -> tuple[float, float]:
    """The protocol's order: the shortfall from the goal in points, then −F1 (lower is better)."""
    return max(0.0, q.far - 10) + max(0.0, q.mar - 25), -q.f1


def verdict(results: dict[str, dict[str, Quality]], strict: bool = False) -> list[str]:
    """The two directions' choices, their held-out figures and which candidate (if any) passes:
    rounds 1–2 no worse on both folders, better on one, anomaly-free FAR within 2 points;
    `strict` (round 3) better on both folders and anomaly-free FAR not above the incumbent's."""
    names = list(results)
    incumbent = names[0]
    lines, chosen = [], set()
    for choose, judge in (("valve1", "valve2"), ("valve2", "valve1")):
        pick = min(names, key=lambda n: key(results[n][choose]))
        chosen.add(pick)
        mine, theirs = results[pick][judge], results[incumbent][judge]
        holds = "holds" if key(mine) <= key(theirs) else "loses"
        lines.append(f"chosen on {choose}: {pick}; on {judge} {fig(mine)} against the "
                     f"incumbent's {fig(theirs)}: {holds}")
    passing = []
    for name in sorted(chosen - {incumbent}):
        r, i = results[name], results[incumbent]
        gain = [key(r[f]) < key(i[f]) for f in ("valve1", "valve2")]
        both = all(gain) or (not strict and all(key(r[f]) <= key(i[f]) for f in ("valve1",
                                                                                 "valve2")))
        better = all(gain) if strict else any(gain)
        normal = r["anomaly-free"].far <= i["anomaly-free"].far + (0 if strict else 2)
        lines.append(f"{name}: {'better' if strict else 'no worse'} on both folders {both}, "
                     f"better on one {any(gain)}, anomaly-free FAR within "
                     f"{0 if strict else 2} points {normal}")
        if both and better and normal:
            passing.append(name)
    lines.append(f"verdict: {', '.join(passing) if passing else 'the incumbent stays'}")
    return lines


def mean_errors(caches: list[str]) -> dict[str, dict]:
    """Round 4's ensemble: each file of the first cache with every window's error (fitting,
    held-out, every row) the mean of the caches' models' errors on it."""
    models = [np.load(c, allow_pickle=True)["files"].item() for c in caches]
    out = {}
    for name, first in models[0].items():
        out[name] = first | {part: np.mean([m[name][part] for m in models], axis=0)
                             for part in ("error", "fit", "held")}
        assert all(np.array_equal(m[name]["values"], first["values"]) for m in models)
    return out


def fig(q: Quality) -> str:
    """F1 / FAR / MAR."""
    return f"{q.f1:.2f} / {q.far:.2f} / {q.mar:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--train-args", default=CENTRED_TRAIN_ARGS)
    parser.add_argument("--cache", type=Path, help="store the AE's errors here, or read them")
    parser.add_argument("--round", type=int, choices=sorted(ROUNDS), default=1)
    parser.add_argument("--ensemble", help="round 4: caches of the ensemble's models, by commas")
    args = parser.parse_args()
    if args.cache and args.cache.exists():
        stored = np.load(args.cache, allow_pickle=True)["files"].item()
    else:
        stored = datasets(args.folder, shlex.split(args.train_args))
        if args.cache:
            np.savez(args.cache, files=np.asarray(stored, dtype=object))
    drift = max(abs(scores(f, "", ())[0][1] / float(f["bundle_threshold"]) - 1)
                for f in stored.values())
    print(f"the incumbent's thresholds recomputed against its bundles': within {drift:.1e}")
    ensemble = mean_errors(args.ensemble.split(",")) if args.ensemble else None
    if args.round == 4 and ensemble is None:
        sys.exit("--round 4 needs --ensemble CACHE,CACHE,... (the ensemble's models' errors)")
    results = {name: totals(ensemble if c[0] == "decision" and c[1][0] else stored, c)
               for name, c in ROUNDS[args.round].items()}
    rows = [(name, *(fig(r[g]) for g in ("valve1", "valve2", "all 20")),
             f"{r['anomaly-free'].far:.2f}") for name, r in results.items()]  # fmt: skip
    print(f"\n{args.train_args}; each score POT at {BUDGET:g} / k x its gap; any above, "
          f"persistence {RULE}\n")
    print(table(rows, ("candidate", "valve1", "valve2", "all 20", "anomaly-free FAR, %")))
    print("\n" + "\n".join(verdict(results, strict=args.round >= 3)))
    print(f"\ncommand: nice -n 19 .venv/bin/python -m bench.quality.skab_select "
          f"{shlex.quote(str(args.folder))} --round {args.round} "
          f"--train-args {shlex.quote(args.train_args)}")


if __name__ == "__main__":
    main()
