"""Research (issue 28, round 8): scores beside the AE that follow the drift as its threshold does.

    nice -n 19 .venv/bin/python -m bench.quality.skab_round8 [FOLDER] [--cache-dir DIR]
        [--seeds 0,1] [--injected-dir DIR] [--check] [--per-file]

The protocol is written in bench/RESULTS.md ("issue 28, round 8"). The incumbent is round 7's A·2
(the AE's threshold POT at 2 % × gap, re-based as round 5's A); its errors are round 5's caches
(DIR/inc_seedS.npz) and the injected benchmark's (`bench.quality.injected`, seed 0, in
--injected-dir; either computed when missing). Candidates: A·2 with round 1's Q (fast or all
channels), Q and T² (fast) or round 3's spread beside it, the budget 2 % split over the k scores
(the AE's too), each added score's threshold re-based on its own score by round 5's rule
(`skab_round5.flags`' `follow`). Persistence 5/10 after each. Prints every candidate per folder
and seed, then per candidate the injected benchmark's quiet MAR over the ten families (2 and 6 σ)
and its FAR on the clean pieces, the two directions' choices and the verdict. `--check` prints
only round 7's A·2, round 1's AE + fast Q and T² (fixed thresholds) and the injected A·2 column
(no candidate computed); `--per-file` adds, per file and seed, each candidate's missed and false
rows against A·2's (information, no say in the verdict).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import table
from bench.quality import injected as bench_injected
from bench.quality import skab_round5 as round5
from bench.quality import skab_round7 as round7
from bench.quality.injection import FAULTS, MAGNITUDES
from bench.quality.skab import CENTRED_TRAIN_ARGS
from bench.quality.skab_select import BUDGET, RULE
from detector.offline.evaluate import Quality

# The AE's threshold, the budget, the added scores, and their thresholds (None: fixed).
Spec = tuple[round5.Variant, float, tuple[str, ...], round5.Variant]
INCUMBENT, A2, FOLLOW = "A·2", 2 * BUDGET, round5.REBASED
CANDIDATES: dict[str, Spec] = {
    INCUMBENT: (round5.REBASED, A2, (), None),
    "A·2 + Q fast": (round5.REBASED, A2, ("fast q",), FOLLOW),
    "A·2 + Q all": (round5.REBASED, A2, ("all q",), FOLLOW),
    "A·2 + Q + T² fast": (round5.REBASED, A2, ("fast q", "fast t2"), FOLLOW),
    "A·2 + spread": (round5.REBASED, A2, ("fast spread",), FOLLOW),
}
CHECKS: dict[str, Spec] = {  # earlier rounds' rows this code must reproduce
    "round 7's A·2": (*round7.CANDIDATES["A·2"], None),
    "round 1's AE + fast Q and T²": (None, BUDGET, ("fast q", "fast t2"), None),
}
QUIET_GAIN = 1.0  # points of quiet MAR below A·2's at 2 and 6 σ (the protocol's condition 4)
SWITCHES = {"--check": "only reproduce rounds 7 and 1's rows and the injected A·2 column",
            "--per-file": "last, each file's missed and false rows against A·2's"}


def quiet_figures(counts: dict[str, dict[str, object]]) -> dict[str, tuple[float, ...]]:
    """Per candidate of the injected benchmark: quiet MAR % over the ten families at each
    magnitude, then FAR % of the clean pieces' normal scored rows (bench_injected.counts)."""
    out = {}
    for name, got in counts.items():
        sums = [sum(got[f"{fault.name} {m:g}"] for fault in FAULTS) for m in MAGNITUDES]
        out[name] = (*(100 * s[2] / s[3] for s in sums), 100 * sums[0][6] / sums[0][5])
    return out


def injected_rows(quiet: dict[str, tuple[float, ...]]) -> str:
    """The injected benchmark's figures per candidate, and their change against A·2's."""
    base = quiet[INCUMBENT]
    rows = [(name, *(f"{x:.2f} ({x - b:+.2f})" for x, b in zip(q, base, strict=True)))
            for name, q in quiet.items()]
    return table(rows, ("candidate (seed 0)", *(f"quiet MAR, {m:g} σ, %" for m in MAGNITUDES),
                        "clean pieces' FAR, %"))


def verdict(results: dict[int, dict[str, dict[str, Quality]]],
            quiet: dict[str, tuple[float, ...]]) -> list[str]:
    """The two directions (lowest MAR on the choosing folder, ties lower FAR), each candidate's
    four conditions, and the verdict (several passing: the lowest quiet MAR at 2 σ)."""
    first = results[min(results)]
    lines, chosen = round5.directions(first, INCUMBENT, order="mar")
    passing = []
    for name in [n for n in first if n != INCUMBENT]:
        worse = round5.worse_on(results, name, INCUMBENT)
        rises = [r[name]["anomaly-free"].far - r[INCUMBENT]["anomaly-free"].far
                 for r in results.values()]
        normal = all(x <= round5.POINTS_SLACK for x in rises)
        *gains, far = (b - x for x, b in zip(quiet[name], quiet[INCUMBENT], strict=True))
        found = all(g >= QUIET_GAIN for g in gains) and -far <= round5.POINTS_SLACK
        lines.append(f"{name}: chosen {name in chosen}; worse on {', '.join(worse) or 'none'}; "
                     f"anomaly-free FAR higher by {', '.join(f'{x:.2f}' for x in rises)} points "
                     f"(<= {round5.POINTS_SLACK:g} on every seed: {normal}); injected quiet MAR "
                     f"lower by {', '.join(f'{g:.2f}' for g in gains)} points at "
                     f"{', '.join(f'{m:g}' for m in MAGNITUDES)} σ, clean FAR higher by "
                     f"{-far:.2f} (>= {QUIET_GAIN:g} lower at both, <= "
                     f"{round5.POINTS_SLACK:g} higher: {found})")
        if name in chosen and not worse and normal and found:
            passing.append(name)
    best = min(passing, key=lambda n: quiet[n][0], default=f"{INCUMBENT} stays")
    lines.append(f"verdict: {best}")
    return lines


def injected_counts(folder: Path, cache_dir: Path, candidates: dict[str, Spec]) -> dict:
    """The injected benchmark's counts (bench_injected.tally) of these candidates, seed 0."""
    models = bench_injected.all_errors(folder, cache_dir / "errors.npz")
    return bench_injected.tally(models, {n: ("inc", spec) for n, spec in candidates.items()})


def footer(module: str, args: argparse.Namespace, started: float, paths: tuple[str, ...],
           switches: dict[str, str]) -> str:
    """The run's wall time and load, and the command that repeats it (its `paths` options and
    the `switches` it was given; rounds 8 and 9)."""
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    given = {o: getattr(args, o[2:].replace("-", "_")) for o in (*paths, *switches)}
    return (f"\n{time.monotonic() - started:.0f} s wall; {load}\ncommand: nice -n 19 "
            f".venv/bin/python -m bench.quality.{module} {shlex.quote(str(args.folder))} "
            f"--cache-dir {args.cache_dir} --seeds {args.seeds}"
            + "".join(f" {o} {given[o]}" for o in paths)
            + "".join(f" {o}" for o in switches if given[o]))


def main() -> None:
    started = time.monotonic()
    args = round5.arguments(__doc__, SWITCHES, {"--injected-dir": Path("/tmp/injected")})
    seeds = [int(s) for s in args.seeds.split(",")]
    stored = {seed: round5.cached(args.cache_dir / f"inc_seed{seed}.npz", args.folder,
                                  f"{CENTRED_TRAIN_ARGS} --seed {seed}") for seed in seeds}
    specs = CHECKS if args.check else CANDIDATES
    results = {seed: {name: round5.totals(stored[seed], *spec) for name, spec in specs.items()}
               for seed in seeds}
    print(f"\n{CENTRED_TRAIN_ARGS}; the AE: POT {A2:g} / k x gap, re-based as round 5's A; Q, "
          f"T², spread: POT {A2:g} / k x gap, re-based the same on their own score; any above, "
          f"persistence {RULE}" + ("; checks: round 7's and round 1's rules" * args.check) + "\n")
    print(table([row for seed in seeds for row in round5.rows_of(results[seed], seed)],
                ("candidate", *round5.FOLDERS, "all 20", "anomaly-free FAR, %")))
    counts = injected_counts(args.folder, args.injected_dir,
                             {INCUMBENT: CANDIDATES[INCUMBENT]} if args.check else CANDIDATES)
    quiet = quiet_figures(counts)
    print(f"\ninjected faults (bench.quality.injected, seed 0, six pieces):\n\n"
          f"{injected_rows(quiet)}\n{bench_injected.tables(counts)}")
    if not args.check:
        print("\n" + "\n".join(verdict(results, quiet)))
    for seed in seeds if args.per_file and not args.check else ():
        print(f"\n{round7.per_file(stored[seed], seed, CANDIDATES, INCUMBENT)}")
    print(footer("skab_round8", args, started, ("--injected-dir",), SWITCHES))


if __name__ == "__main__":
    main()
