"""Research (issue 28): faults of SKAB's `other` families injected into the anomaly-free run.

    nice -n 19 .venv/bin/python -m bench.quality.injected [FOLDER] [--cache-dir /tmp/injected]

The protocol is written in bench/RESULTS.md ("faults of the `other` families injected"); the
families, channels, shapes and magnitudes are bench/quality/injection.py's table (ten families,
m = 2 and 6 training σ, scored rows 170–569 of each piece). Information for the outside
measurement, no say in round 7's decision. The anomaly-free run is cut into skab_normal's six
pieces; per piece, the incumbent AE (`bench.quality.skab`'s default until round 7, seed 0)
and a reference with `--slow-channels keep` are each trained once on the 400 untouched training
rows in this process (skab_select's training) and score the clean piece and its twenty injected
copies (cached in DIR/errors.npz). Round 7's candidates and the incumbent (`skab_round7.CANDIDATES`,
flagged by `skab_round5.flags`), and the incumbent's rule on the reference, flag each copy; per
family and magnitude, summed over the pieces: MAR, quiet MAR (of the fault rows a candidate
leaves unflagged on the clean piece, the share still unflagged) and FAR of the normal scored
rows beside the clean pieces' FAR on the same rows.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import table
from bench.quality import skab_round5 as round5
from bench.quality import skab_round7 as round7
from bench.quality import skab_select
from bench.quality.injection import FAULTS, LENGTH, MAGNITUDES, START, inject
from bench.quality.skab import CENTRED_TRAIN_ARGS, DEFAULT_FOLDER, TRAIN_ROWS
from bench.quality.skab_normal import piece_frames
from bench.quality.skab_select import BUDGET, LABELS, RULE
from shared.tables import read_csv

SETTINGS = {  # the model each candidate flags with: its train arguments (seed 0)
    "inc": f"{CENTRED_TRAIN_ARGS} --seed 0",
    "keep": CENTRED_TRAIN_ARGS.replace("--slow-channels centre", "--slow-channels keep")
    + " --seed 0",
}
CANDIDATES: dict[str, tuple[str, round7.Spec]] = {  # name: (model, round 7's spec)
    **{name: ("inc", spec) for name, spec in round7.CANDIDATES.items()},
    "levels kept (ref.)": ("keep", round7.CANDIDATES["incumbent"]),
}


def variants() -> list[tuple[str, int, float]]:
    """Every injected copy: its key, its family's index in FAULTS and its magnitude."""
    return [(f"{fault.name} {m:g}", j, m) for j, fault in enumerate(FAULTS) for m in MAGNITUDES]


def piece_errors(piece, index: int, train_args: list[str]) -> dict[str, dict]:
    """One piece's model trained once on its training rows: its errors on the clean piece and on
    each injected copy (the fault's noise seeded by piece, family and magnitude)."""
    channels = [c for c in piece.columns if c not in LABELS]
    with tempfile.TemporaryDirectory(prefix="injected-") as tmp:
        bundle = skab_select.train_bundle(piece, train_args, Path(tmp))
    out = {"clean": skab_select.window_errors(bundle, piece)}
    values = piece[channels].to_numpy(dtype=float)
    for key, j, m in variants():
        faulty = inject(values, channels, FAULTS[j], m, TRAIN_ROWS, TRAIN_ROWS + START,
                        seed=100 * index + 10 * j + int(m))
        copy = piece.assign(**dict(zip(channels, faulty.T, strict=True)))
        out[key] = skab_select.window_errors(bundle, copy)
    print(".", end="", flush=True)
    return out


def all_errors(folder: Path, cache: Path) -> dict[str, list[dict[str, dict]]]:
    """Each model's errors per piece (clean and injected), from the cache or computed and stored."""
    if cache.exists():
        return np.load(cache, allow_pickle=True)["models"].item()
    pieces = piece_frames(read_csv(folder / "anomaly-free" / "anomaly-free.csv"))
    models = {name: [piece_errors(p, i, shlex.split(args)) for i, p in enumerate(pieces)]
              for name, args in SETTINGS.items()}
    print()
    np.savez(cache, models=np.asarray(models, dtype=object))
    return models


def counts(clean: np.ndarray, flagged: np.ndarray) -> np.ndarray:
    """Fault rows missed, fault rows, quiet fault rows missed, quiet fault rows, normal rows
    flagged, normal rows, the same normal rows flagged on the clean piece."""
    span = np.zeros(len(flagged), dtype=bool)
    span[START:START + LENGTH] = True
    quiet = span & ~clean
    return np.array([(span & ~flagged).sum(), span.sum(), (quiet & ~flagged).sum(), quiet.sum(),
                     (~span & flagged).sum(), (~span).sum(), (~span & clean).sum()])


def tally(models: dict[str, list[dict[str, dict]]], candidates: dict[str, tuple[str, tuple]]
          | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Per candidate (name: model, `round5.flags`' options; round 7's by default) and injected
    copy: counts() summed over the pieces."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, (model, spec) in (candidates or CANDIDATES).items():
        out[name] = {}
        for piece in models[model]:
            clean = round5.flags(piece["clean"], *spec)
            for key, _, _ in variants():
                got = counts(clean, round5.flags(piece[key], *spec))
                out[name][key] = out[name].get(key, 0) + got
    return out


def percent(part: int, whole: int) -> str:
    """part / whole in percent, or `–` when nothing is counted."""
    return f"{100 * part / whole:.1f}" if whole else "–"


def tables(results: dict[str, dict[str, np.ndarray]]) -> str:
    """Per magnitude: MAR / quiet MAR per family and candidate, then FAR beside the clean FAR."""
    names, out = list(results), []
    for m in MAGNITUDES:
        keys = [(fault.name, f"{fault.name} {m:g}") for fault in FAULTS]
        summed = {n: sum(results[n][k] for _, k in keys) for n in names}
        rows = [(family, *(f"{percent(*r[k][0:2])} / {percent(*r[k][2:4])}"
                           for r in results.values())) for family, k in keys]
        rows.append(("**all ten**", *(f"**{percent(*s[0:2])} / {percent(*s[2:4])}**"
                                      for s in summed.values())))
        out += [f"\nm = {m:g} σ: MAR % / quiet MAR % (fault rows, six pieces)\n",
                table(rows, ("family", *names))]
        rows = [(family, *(percent(*r[k][4:6]) for r in results.values())) for family, k in keys]
        rows.insert(0, ("clean pieces", *(percent(s[6], s[5]) for s in summed.values())))
        out += [f"\nm = {m:g} σ: FAR % of the 3,600 normal scored rows\n",
                table(rows, ("family", *names))]
    return "\n".join(out)


def check(models: dict[str, list[dict[str, dict]]]) -> str:
    """The clean pieces' incumbent errors against round 5's seed-0 cache, when it is there."""
    cache = Path("/tmp/q5/inc_seed0.npz")
    if not cache.exists():
        return "round 5's cache /tmp/q5/inc_seed0.npz absent: no check"
    old = np.load(cache, allow_pickle=True)["files"].item()
    gap = max(float(np.nanmax(np.abs(p["clean"]["error"] / old[f"anomaly-free/{i}"]["error"] - 1)))
              for i, p in enumerate(models["inc"]))
    return f"clean pieces' incumbent errors against round 5's cache: within {gap:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/injected"))
    args = parser.parse_args()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    models = all_errors(args.folder, args.cache_dir / "errors.npz")
    print(check(models))
    print(f"\n{CENTRED_TRAIN_ARGS} --seed 0; round 7's candidates (POT {BUDGET:g} / k x gap, "
          f"A: re-based), persistence {RULE}; fault at scored rows {START}–{START + LENGTH - 1}")
    print(tables(tally(models)))
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"\n{time.monotonic() - started:.0f} s wall; {load}")
    print(f"command: nice -n 19 .venv/bin/python -m bench.quality.injected "
          f"{shlex.quote(str(args.folder))} --cache-dir {args.cache_dir}")


if __name__ == "__main__":
    main()
