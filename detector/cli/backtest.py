"""`detector backtest`: the model lifecycle offline, row by row (thin: parse, run, print)."""

from __future__ import annotations

import dataclasses
import resource
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from detector.cli.offline import check_inputs_apart, echo_err
from detector.cli.options import log_level
from detector.errors import BundleError, DataError
from detector.lifecycle.backtest import RETRAIN_EVERY, RETRAIN_WINDOW, Policy, Result
from detector.lifecycle.cleaning import VARIANTS
from detector.lifecycle.memory import RETRAIN_MEMORY
from shared.outputs import check_file

if TYPE_CHECKING:
    import pandas as pd

    from detector.core.bundle import Bundle

MAX_ROWS = 10_000_000


@click.command()
@click.argument("bundle", type=click.Path())
@click.argument("data", type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Scores CSV to write.")
@click.option("--history", type=click.Path(dir_okay=False),
              help="Readings just before DATA.csv: windows, and rows of the first cycles.")
@click.option("--retrain-every", type=click.IntRange(1, MAX_ROWS), default=RETRAIN_EVERY,
              show_default=True, help="Scored rows between retrain cycles.")
@click.option("--retrain-window", type=click.IntRange(2, MAX_ROWS), default=RETRAIN_WINDOW,
              show_default=True, help="Newest rows a cycle cleans and trains on (its newest "
              "sixth judges the challenger).")
@click.option("--retrain-memory", type=click.IntRange(0, MAX_ROWS), default=RETRAIN_MEMORY,
              show_default=True, help="Older kept rows per device remembered beside the window "
              "and trained on too (0: none).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1),
              help="Seed of every challenger's training (default: the bundle's own).")
@click.option("--label-column", help="Rows labelled anomalous here are never trained on "
              "(default: the first of anomaly, changepoint, label, is_anomaly, if any).")
@click.option("--cleaning", type=click.Choice(VARIANTS), default="rule", hidden=True,
              help="Research: the cleaning rule, or one of its two extremes.")
@log_level
def backtest(bundle: str, data: str, out: str, history: str | None, retrain_every: int,
             retrain_window: int, retrain_memory: int, seed: int | None,
             label_column: str | None, cleaning: str) -> None:
    """Serve DATA.csv's rows through the lifecycle: retrain, gate, promote, as the service would."""
    check_file(out, "--out")
    check_inputs_apart(out, data, history)
    from detector.core.bundle import load_bundle
    from detector.offline.data_checks import need_rows
    from detector.offline.recipe import settings_of
    from detector.offline.score import write_scored_csv

    champion = load_bundle(bundle)
    frame, values, labels, devices, first = backtest_rows(champion.channels, data, history,
                                                          label_column)
    settings = settings_of(champion)
    if settings is None:
        raise BundleError(f"{bundle} records no training settings (trained before bundles "
                          "recorded them), so no challenger can be trained like it: train it "
                          "again once with `detector train`")
    if seed is not None:
        settings = dataclasses.replace(settings, seed=seed)
    policy = Policy(retrain_every, retrain_window, cleaning, retrain_memory)
    need = need_rows(champion.window, settings.holdout)
    if retrain_window - policy.tail < need:
        shortest = next(m for m in range(need, 2 * need + 2) if m - Policy(1, m).tail >= need)
        raise DataError(f"--retrain-window {retrain_window} is too short to train a challenger "
                        f"like {bundle}: it needs {need} rows besides the newest sixth; give at "
                        f"least {shortest}")
    started = time.monotonic()
    result = run(champion, values, first, policy, settings, labels, need, devices)
    write_scored_csv(Path(data), frame, result_frame(result), Path(out))
    used = resource.getrusage(resource.RUSAGE_SELF)
    click.echo(f"scored {len(frame)} rows in {time.monotonic() - started:.1f} s "
               f"({used.ru_utime + used.ru_stime:.1f} s of CPU in all), flagged "
               f"{int(result.flags.sum())}; {len(set(result.versions.tolist()))} model(s) served; "
               f"wrote {out}")
    click.echo(cycles_summary(result.counts()))


def run(champion: Bundle, values: np.ndarray, first: int, policy: Policy, settings: Any,
        labels: np.ndarray | None, need: int, devices: np.ndarray | None = None) -> Result:
    """The backtest with trainer_like's trainer, challengers in a temporary folder."""
    import tempfile

    from detector.lifecycle.backtest import backtest as loop
    from detector.offline.recipe import trainer_like

    trainer = trainer_like(settings, champion.channels)
    with tempfile.TemporaryDirectory(prefix="detector-backtest-") as work:
        return loop(champion, values, first, policy, trainer, Path(work), labels, need, echo_err,
                    devices)


def backtest_rows(channels: list[str], data: str, history: str | None, label_column: str | None
                  ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None, np.ndarray | None, int]:
    """DATA.csv's frame; the channel values of history and data rows; their labels; their
    devices (None without a device column); the first data row."""
    from detector.offline.evaluate import truth_of
    from shared.tables import LABEL_COLUMNS, channel_matrix, read_csv

    frames = ([read_csv(history)] if history else []) + [read_csv(data)]
    sources = ([history] if history else []) + [data]
    frame = frames[-1]
    if frame.empty:
        raise DataError(f"{data}: the CSV has no rows to backtest")
    have = ["device" in f.columns for f in frames]
    if any(have) and not all(have):
        raise DataError(f"{data}: a device column in DATA.csv or --history but not in both: "
                        "give it in both (each device's rows its own sequence) or in neither")
    column = label_column or next((c for c in LABEL_COLUMNS if c in frame.columns), None)
    if label_column and label_column not in frame.columns:
        raise DataError(f"{data}: no label column {label_column!r}")
    from detector.core.bundle import require_channels

    for f, source in zip(frames, sources, strict=True):
        require_channels(channels, list(f.columns), str(source))
    values = np.concatenate([channel_matrix(f, channels, str(s)) for f, s in zip(frames, sources,
                                                                                   strict=True)])
    labels = None
    if column is not None:
        labels = np.concatenate([truth_of(f[column].to_numpy(), f"{s}: column {column!r}")
                                 if column in f.columns else np.zeros(len(f), dtype=bool)
                                 for f, s in zip(frames, sources, strict=True)])
    devices = np.concatenate([f["device"].astype(str).to_numpy(dtype=object) for f in frames]
                             ) if all(have) else None
    return frame, values, labels, devices, len(values) - len(frame)


def result_frame(result: Result) -> pd.DataFrame:
    """`detector score`'s columns plus model_version."""
    import pandas as pd

    return pd.DataFrame({"error": result.error, "score": result.score,
                         "is_anomaly": result.flags.astype(np.int8), "top_channel": result.top,
                         "model_version": result.versions})


def cycles_summary(counts: Counter) -> str:
    """`trained T challengers: promoted P (reason n, …), rejected R (…); skipped S (…)`."""
    def part(outcome: str) -> str:
        items = {r: n for (o, r), n in counts.items() if o == outcome}
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(items.items()))
        return f"{outcome} {sum(items.values())}" + (f" ({reasons})" if reasons else "")

    trained = sum(n for (o, _), n in counts.items() if o in ("promoted", "rejected"))
    return (f"trained {trained} challenger(s): {part('promoted')}, {part('rejected')}; "
            f"{part('skipped')}; {part('failed')}")
