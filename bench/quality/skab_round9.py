"""Research (issue 28, round 9): the levels kept, the following threshold as the drift's remedy.

    nice -n 19 .venv/bin/python -m bench.quality.skab_round9 [FOLDER] [--cache-dir DIR]
        [--seeds 0,1] [--keep-dir DIR] [--injected-dir DIR] [--check] [--per-file]

The protocol is written in bench/RESULTS.md ("issue 28, round 9"). The incumbent is round 7's A·2
on round 5's centred errors (DIR/inc_seedS.npz); the candidates K and K·1 are A·2's threshold
(POT 2 % × gap, re-based as round 5's A; K·1 at POT 1 %) on the errors of the same AE with
`--slow-channels keep` (--keep-dir/keep_seedS.npz, trained in this process as round 5 caches
its own; a threshold setting changes no error, so one cache serves both). The injected
benchmark's errors (`bench.quality.injected`, seed 0, in --injected-dir) hold both models.
Persistence 5/10 after each. Prints every candidate per folder and seed, then per candidate the
injected quiet MAR over the ten families (2 and 6 σ) and its FAR on the clean pieces, the two
directions' choices (lowest MAR) and the verdict, by round 8's rule. `--check` prints only A·2
(round 7's rows, the injected A·2 column; no candidate scored); the keep cache's clean pieces
(seed 0) are checked against the injected benchmark's whenever the cache is there. `--per-file`
adds, per file and seed, each candidate's missed and false rows against A·2's (information, no
say in the verdict).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import table
from bench.quality import injected as bench_injected
from bench.quality import skab_round5 as round5
from bench.quality import skab_round7 as round7
from bench.quality import skab_round8 as round8
from bench.quality.skab import CENTRED_TRAIN_ARGS
from bench.quality.skab_select import BUDGET, RULE

INCUMBENT = round8.INCUMBENT
KEEP_ARGS = bench_injected.SETTINGS["keep"].removesuffix(" --seed 0")  # the levels kept
CANDIDATES: dict[str, tuple[str, round8.Spec]] = {  # name: (the model's errors, its threshold)
    INCUMBENT: ("inc", round8.CANDIDATES[INCUMBENT]),
    "K": ("keep", round8.CANDIDATES[INCUMBENT]),
    "K·1": ("keep", (round5.REBASED, BUDGET, (), None)),
}
SWITCHES = {"--check": "only A·2's rows and its injected column",
            "--per-file": "last, each file's missed and false rows against A·2's"}


def clean_check(cache: Path, models: dict) -> str:
    """The keep cache's anomaly-free pieces against the injected benchmark's clean pieces (both
    seed 0), when the cache is there."""
    if not cache.exists():
        return f"{cache} absent: keep errors not checked against the injected benchmark's"
    keep = np.load(cache, allow_pickle=True)["files"].item()
    gap = max(float(np.nanmax(np.abs(p["clean"]["error"] / keep[f"anomaly-free/{i}"]["error"]
                                     - 1))) for i, p in enumerate(models["keep"]))
    return f"keep errors of the clean pieces against the injected benchmark's: within {gap:.1e}"


def main() -> None:
    started = time.monotonic()
    args = round5.arguments(__doc__, SWITCHES, {"--keep-dir": Path("/tmp/q9"),
                                                "--injected-dir": Path("/tmp/injected")})
    args.keep_dir.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    caches = {"inc": (args.cache_dir, CENTRED_TRAIN_ARGS), "keep": (args.keep_dir, KEEP_ARGS)}
    candidates = {INCUMBENT: CANDIDATES[INCUMBENT]} if args.check else CANDIDATES
    stores = {seed: {kind: round5.cached(where / f"{kind}_seed{seed}.npz", args.folder,
                                         f"{setting} --seed {seed}")
                     for kind, (where, setting) in caches.items()
                     if any(model == kind for model, _ in candidates.values())}
              for seed in seeds}
    results = {seed: {name: round5.totals(stores[seed][model], *spec)
                      for name, (model, spec) in candidates.items()} for seed in seeds}
    print(f"\nthe errors of A·2: {CENTRED_TRAIN_ARGS}; of K, K·1: the same with --slow-channels "
          f"keep; the AE's threshold: POT {2 * BUDGET:g} (K·1: {BUDGET:g}) x gap, re-based as "
          f"round 5's A; persistence {RULE}\n")
    print(table([row for seed in seeds for row in round5.rows_of(results[seed], seed)],
                ("candidate", *round5.FOLDERS, "all 20", "anomaly-free FAR, %")))
    models = bench_injected.all_errors(args.folder, args.injected_dir / "errors.npz")
    counts = bench_injected.tally(models, candidates)
    quiet = round8.quiet_figures(counts)
    print(f"\ninjected faults (bench.quality.injected, seed 0, six pieces):\n\n"
          f"{round8.injected_rows(quiet)}\n{bench_injected.tables(counts)}")
    print("\n" + clean_check(args.keep_dir / "keep_seed0.npz", models))
    if not args.check:
        print("\n" + "\n".join(round8.verdict(results, quiet)))
    for seed in seeds if args.per_file and not args.check else ():
        models_of = {name: stores[seed][model] for name, (model, _) in CANDIDATES.items()}
        specs = {name: spec for name, (_, spec) in CANDIDATES.items()}
        print(f"\n{round7.per_file(stores[seed]['inc'], seed, specs, INCUMBENT, models_of)}")
    print(round8.footer("skab_round9", args, started, ("--keep-dir", "--injected-dir"), SWITCHES))

if __name__ == "__main__":
    main()
