"""Research (issue 28, round 5): drift's false alarms inside the AE's own threshold.

    nice -n 19 .venv/bin/python -m bench.quality.skab_round5 [FOLDER] [--cache-dir DIR]
        [--seeds 0,1]

The protocol is written in bench/RESULTS.md ("issue 28, round 5"). Per seed S, the incumbent's
errors (`bench.quality.skab.CENTRED_TRAIN_ARGS`, its default then, with `--seed S`, trained in
this process as `bench.quality.skab_select` does) are cached in DIR/inc_seedS.npz and those of
the same setting with `--validation tail` (candidate B) in DIR/tail_seedS.npz; a missing cache is
computed first.
Candidates: the incumbent, A (the threshold re-based on the lagged usual error,
bench/quality/rebase.py), B (chronological early stopping), C (A on B's model); persistence 5/10
after each. Prints every candidate per folder and seed, the two directions' choices and the verdict.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import table
from bench.quality.rebase import LAG, ROWS, rebased_thresholds
from bench.quality.skab import CENTRED_TRAIN_ARGS, DEFAULT_FOLDER, TRAIN_ROWS
from bench.quality.skab_select import BUDGET, RULE, WINDOW, datasets, fig, step_columns
from detector.core.alarm import parse_persistence, persist
from detector.core.calibration import calibrate
from detector.offline.evaluate import Quality, quality

Variant = tuple[int, float] | None  # a re-based threshold's (lag, quantile); None: fixed
REBASED: Variant = (LAG, 0.5)  # round 5's A: the median of rows t - 499 ... t - 300
CANDIDATES: dict[str, tuple[str, Variant]] = {  # name: (the model's cache, threshold)
    "incumbent": ("inc", None),
    "A: re-based threshold": ("inc", REBASED),
    "B: chronological early stopping": ("tail", None),
    "C: A on B's model": ("tail", REBASED),
}
TAIL_ARGS = CENTRED_TRAIN_ARGS.replace("--validation random", "--validation tail")
F1_SLACK, POINTS_SLACK, NORMAL_GAIN = 0.005, 0.25, 1.0  # the protocol's tolerance
FOLDERS = ("valve1", "valve2")


def threshold_of(fit: np.ndarray, held: np.ndarray, every: np.ndarray, target: float,
                 variant: Variant) -> float | np.ndarray:
    """A score's threshold: POT at `target` on its held-out windows × its gap (at least 1),
    fixed, or re-based on `every` row's score by the variant's lag and quantile (round 5's A)."""
    calibration = calibrate(held, "pot", target, 1.0, WINDOW, fit, gap_power=1.0)
    if variant is None:
        return calibration.threshold
    lag, q = variant
    return rebased_thresholds(every, calibration.details["calibrated_threshold"],
                              calibration.details["gap"], float(np.quantile(held, q)), lag,
                              ROWS, q)


def flags(f: dict, variant: Variant, budget: float = BUDGET, parts: tuple[str, ...] = (),
          follow: Variant = None) -> np.ndarray:
    """The test rows' flags: the AE's error above its threshold (fixed, or re-based by the
    variant's lag and quantile) or any of round 3's `parts` scores (or round 1's, `q`, `t2`)
    above its own (POT at budget / k × its gap, k the scores the file has: round 7; fixed, or
    re-based by `follow`: round 8), then persistence 5/10."""
    extra = step_columns(f, parts)
    k = 1 + len(extra)
    above = np.nan_to_num(f["error"], nan=0.0) > threshold_of(f["fit"], f["held"], f["error"],
                                                              budget / k, variant)
    for fit, held, column in extra:
        above |= np.nan_to_num(column, nan=0.0) > threshold_of(fit, held, column, budget / k,
                                                               follow)
    return persist(above, parse_persistence(RULE))[TRAIN_ROWS:]


def each_file(stored: dict[str, dict], variant: Variant, budget: float = BUDGET,
              parts: tuple[str, ...] = (), follow: Variant = None) -> dict[str, Quality]:
    """Counts per file and anomaly-free piece (`flags`' options)."""
    return {name: quality(f["truth"][TRAIN_ROWS:], flags(f, variant, budget, parts, follow))
            for name, f in stored.items()}


def totals(stored: dict[str, dict], variant: Variant, budget: float = BUDGET,
           parts: tuple[str, ...] = (), follow: Variant = None) -> dict[str, Quality]:
    """Counts per folder (valve1, valve2, anomaly-free) and over the 20 files."""
    out: dict[str, Quality] = {}
    for name, q in each_file(stored, variant, budget, parts, follow).items():
        group = name.split("/")[0]
        out[group] = out.get(group, Quality(0, 0, 0, 0)) + q
        if group != "anomaly-free":
            out["all 20"] = out.get("all 20", Quality(0, 0, 0, 0)) + q
    return out


def no_worse(x: Quality, incumbent: Quality) -> bool:
    """The protocol's tolerance: F1 at most 0.005 lower, FAR and MAR at most 0.25 points higher."""
    return (x.f1 >= incumbent.f1 - F1_SLACK and x.far <= incumbent.far + POINTS_SLACK
            and x.mar <= incumbent.mar + POINTS_SLACK)


def directions(first: dict[str, dict[str, Quality]], incumbent: str = "incumbent",
               order: str = "far") -> tuple[list[str], set[str]]:
    """Each direction on the first seed: among the candidates no worse than the incumbent on one
    folder, the one of lowest `order` (far, then mar; or mar, then far) there (the incumbent if
    none), and how it fares on the other folder."""
    lines, chosen = [], set()
    for choose, judge in (FOLDERS, FOLDERS[::-1]):
        fine = [n for n in first if n != incumbent
                and no_worse(first[n][choose], first[incumbent][choose])]
        figures = {n: (first[n][choose].far, first[n][choose].mar) for n in fine}
        pick = min(fine, key=lambda n: figures[n][:: 1 if order == "far" else -1],
                   default=incumbent)
        chosen.add(pick)
        holds = no_worse(first[pick][judge], first[incumbent][judge])
        lines.append(f"chosen on {choose}: {pick}; on {judge} {fig(first[pick][judge])} against "
                     f"{fig(first[incumbent][judge])}: {'holds' if holds else 'loses'}")
    return lines, chosen


def worse_on(results: dict[int, dict[str, dict[str, Quality]]], name: str,
             incumbent: str = "incumbent") -> list[str]:
    """The folders and seeds on which `name` is not no worse than the incumbent."""
    return [f"{f} seed {s}" for s, r in results.items() for f in FOLDERS
            if not no_worse(r[name][f], r[incumbent][f])]


def verdict(results: dict[int, dict[str, dict[str, Quality]]]) -> list[str]:
    """The two directions' choices on seed 0, each candidate's conditions, and the verdict."""
    first = results[min(results)]
    lines, chosen = directions(first)
    passing = []
    for name in [n for n in first if n != "incumbent"]:
        worse = worse_on(results, name)
        gains = [r["incumbent"]["anomaly-free"].far - r[name]["anomaly-free"].far
                 for r in results.values()]
        normal = all(g >= NORMAL_GAIN for g in gains)
        lines.append(f"{name}: chosen {name in chosen}; worse on {', '.join(worse) or 'none'}; "
                     f"anomaly-free FAR lower by {', '.join(f'{g:.2f}' for g in gains)} "
                     f"points (>= {NORMAL_GAIN:g} on every seed: {normal})")
        if name in chosen and not worse and normal:
            passing.append(name)
    best = min(passing, key=lambda n: first[n]["anomaly-free"].far, default="the incumbent stays")
    lines.append(f"verdict: {best}")
    return lines


def cached(path: Path, folder: Path, train_args: str) -> dict[str, dict]:
    """The AE errors of a setting on every file and piece, from `path` or trained and stored."""
    if path.exists():
        return np.load(path, allow_pickle=True)["files"].item()
    stored = datasets(folder, shlex.split(train_args))
    np.savez(path, files=np.asarray(stored, dtype=object))
    return stored


def arguments(doc: str, switches: dict[str, str] | None = None,
              paths: dict[str, Path] | None = None) -> argparse.Namespace:
    """The rounds' command line (FOLDER, --cache-dir, --seeds, a round's on/off `switches`:
    option: help, and its other cache folders, `paths`: option: default); the cache folder made."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/q5"))
    parser.add_argument("--seeds", default="0,1")
    for option, text in (switches or {}).items():
        parser.add_argument(option, action="store_true", help=text)
    for option, default in (paths or {}).items():
        parser.add_argument(option, type=Path, default=default, help=f"default {default}")
    args = parser.parse_args()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    return args


def rows_of(results: dict[str, dict[str, Quality]], seed: int) -> list[tuple[str, ...]]:
    """One table row per candidate of a seed: each folder's figures, all 20, anomaly-free FAR."""
    return [(f"{name}, seed {seed}", *(fig(r[g]) for g in (*FOLDERS, "all 20")),
             f"{r['anomaly-free'].far:.2f}") for name, r in results.items()]


def main() -> None:
    args = arguments(__doc__)
    results, rows = {}, []
    for seed in (int(s) for s in args.seeds.split(",")):
        models = {kind: cached(args.cache_dir / f"{kind}_seed{seed}.npz", args.folder,
                               f"{setting} --seed {seed}")
                  for kind, setting in (("inc", CENTRED_TRAIN_ARGS), ("tail", TAIL_ARGS))}
        results[seed] = {name: totals(models[kind], variant)
                         for name, (kind, variant) in CANDIDATES.items()}
        rows += rows_of(results[seed], seed)
    print(f"\n{CENTRED_TRAIN_ARGS} (B, C: --validation tail); POT {BUDGET:g} x gap (A, C: "
          f"re-based), persistence {RULE}\n")
    print(table(rows, ("candidate", *FOLDERS, "all 20", "anomaly-free FAR, %")))
    print("\n" + "\n".join(verdict(results)))
    print(f"\ncommand: nice -n 19 .venv/bin/python -m bench.quality.skab_round5 "
          f"{shlex.quote(str(args.folder))} --cache-dir {args.cache_dir} --seeds {args.seeds}")


if __name__ == "__main__":
    main()
