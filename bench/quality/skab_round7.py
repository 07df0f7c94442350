"""Research (issue 28, round 7): the re-based threshold's headroom spent on missed faults.

    nice -n 19 .venv/bin/python -m bench.quality.skab_round7 [FOLDER] [--cache-dir DIR]
        [--seeds 0,1] [--check] [--per-file]

The protocol is written in bench/RESULTS.md ("issue 28, round 7"). The incumbent's errors are
round 5's caches (DIR/inc_seedS.npz; `bench.quality.skab_round5` computes a missing one).
Candidates: round 5's A (bench/quality/rebase.py); A·2, A with the AE's POT budget 2 %; A with
round 3's step (all channels), spread (fast channels) or both (bench/quality/steps.py) beside
it, each added score at a fixed threshold (POT at 1 % / k × its gap, the AE's budget 1 % / k
too, k the scores a file has), a row above when any score is. Persistence 5/10 after each.
Prints every candidate per folder and seed, the two directions' choices and the verdict, by
round 5's rule. `--check` prints only round 5's incumbent and A and round 3's candidates with
the fixed threshold, on the first seed's cache (to compare with those rounds' tables; no
candidate computed); `--per-file` adds, per file and seed, the rows each candidate misses and
flags falsely against the incumbent's (information, no say in the verdict).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import table
from bench.quality import skab_round5 as round5
from bench.quality.skab import CENTRED_TRAIN_ARGS
from bench.quality.skab_select import BUDGET, RULE
from detector.offline.evaluate import Quality

Spec = tuple[round5.Variant, float, tuple[str, ...]]  # the AE's threshold, budget, added scores
STEP, SPREAD = "all step", "fast spread"  # round 3's names (skab_select.step_columns)
CANDIDATES: dict[str, Spec] = {
    "incumbent": (None, BUDGET, ()),
    "A": (round5.REBASED, BUDGET, ()),
    "A·2": (round5.REBASED, 2 * BUDGET, ()),
    "A + step": (round5.REBASED, BUDGET, (STEP,)),
    "A + spread": (round5.REBASED, BUDGET, (SPREAD,)),
    "A + step + spread": (round5.REBASED, BUDGET, (STEP, SPREAD)),
}
CHECKS: dict[str, Spec] = {  # earlier rounds' rows this code must reproduce
    "round 5's incumbent": (None, BUDGET, ()),
    "round 5's A": (round5.REBASED, BUDGET, ()),
    "round 3's AE + all step": (None, BUDGET, (STEP,)),
    "round 3's AE + fast spread": (None, BUDGET, (SPREAD,)),
    "round 3's AE + all step + fast spread": (None, BUDGET, (STEP, SPREAD)),
}
SWITCHES = {"--check": "only reproduce rounds 3 and 5's rows on the first seed",
            "--per-file": "last, each file's missed and false rows against the incumbent"}


def checks(stored: dict[str, dict], seed: int) -> str:
    """Rounds 3 and 5's rows recomputed by this code, for comparison with their tables."""
    got = {name: round5.totals(stored, *spec) for name, spec in CHECKS.items()}
    rows = round5.rows_of(got, seed)
    return table(rows, ("check", *round5.FOLDERS, "all 20", "anomaly-free FAR, %"))


def per_file(stored: dict[str, dict], seed: int, candidates: dict[str, tuple] | None = None,
             incumbent: str = "incumbent", models: dict[str, dict] | None = None) -> str:
    """Per file: the incumbent's missed and falsely flagged test rows, and each candidate's
    change of both (rows where every candidate matches the incumbent left out), then sums;
    `candidates` (name: `round5.each_file`'s options) round 7's by default, each scored on
    `stored` or on its own errors in `models` (name: errors; round 9)."""
    candidates = candidates or CANDIDATES
    counts = {name: round5.each_file((models or {}).get(name, stored), *spec)
              for name, spec in candidates.items()}
    others = [n for n in candidates if n != incumbent]
    rows = []
    for group in (*stored, *round5.FOLDERS, "anomaly-free"):
        got = {n: sum((q for f, q in c.items() if f == group or f.split("/")[0] == group),
                      Quality(0, 0, 0, 0)) for n, c in counts.items()}
        base = got[incumbent]
        if group in stored and all((got[n].fn, got[n].fp) == (base.fn, base.fp) for n in others):
            continue
        rows.append((group, f"{base.fn} / {base.fp}",
                     *(f"{got[n].fn - base.fn:+d} / {got[n].fp - base.fp:+d}" for n in others)))
    return table(rows, (f"file, seed {seed}", f"{incumbent}: missed / false rows",
                        *(f"{n}: change" for n in others)))


def main() -> None:
    args = round5.arguments(__doc__, SWITCHES)
    seeds = [int(s) for s in args.seeds.split(",")]
    stored = {seed: round5.cached(args.cache_dir / f"inc_seed{seed}.npz", args.folder,
                                  f"{CENTRED_TRAIN_ARGS} --seed {seed}") for seed in seeds}
    if args.check:
        print(f"\nchecks, seed {seeds[0]}:\n\n{checks(stored[seeds[0]], seeds[0])}")
        return
    results = {seed: {name: round5.totals(stored[seed], *spec)
                      for name, spec in CANDIDATES.items()} for seed in seeds}
    print(f"\n{CENTRED_TRAIN_ARGS}; the AE: POT {BUDGET:g} / k x gap, re-based (all but the "
          f"incumbent; A·2: POT {2 * BUDGET:g}); step, spread: POT {BUDGET:g} / k x gap, fixed; "
          f"any above, persistence {RULE}\n")
    print(table([row for seed in seeds for row in round5.rows_of(results[seed], seed)],
                ("candidate", *round5.FOLDERS, "all 20", "anomaly-free FAR, %")))
    print("\n" + "\n".join(round5.verdict(results)))
    for seed in seeds if args.per_file else ():
        print(f"\n{per_file(stored[seed], seed)}")
    print(f"\ncommand: nice -n 19 .venv/bin/python -m bench.quality.skab_round7 "
          f"{shlex.quote(str(args.folder))} --cache-dir {args.cache_dir} --seeds {args.seeds}"
          + "".join(f" {o}" for o in SWITCHES if getattr(args, o[2:].replace("-", "_"))))


if __name__ == "__main__":
    main()
