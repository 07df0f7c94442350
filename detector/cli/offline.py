"""The offline subcommands: train, score, evaluate, info (thin: parse, call the logic, print)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import numpy as np

from detector.core.calibration import METHODS
from detector.errors import DataError

DEFAULT_SIMULATED_DEVICES = 8


def echo_err(message: str) -> None:
    """Progress and notes go to stderr, results to stdout."""
    click.echo(message, err=True)


def parse_columns(text: str | None) -> list[str] | None:
    """`--columns a,b,c` as a list."""
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


def parse_sizes(text: str) -> tuple[int, ...]:
    """`--hidden 5,2` as a tuple of positive ints."""
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError as exc:
        raise DataError(f"--hidden must be comma-separated integers, got {text!r}") from exc
    if not sizes or min(sizes) < 1:
        raise DataError(f"--hidden must list positive layer sizes, got {text!r}")
    return sizes


@click.command()
@click.argument("data", required=False, type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Bundle directory.")
@click.option("--simulate", type=int, default=0, help="Train on N fresh simulated normal readings.")
@click.option("--columns", help="Channel columns, comma-separated (default: every numeric one).")
@click.option("--epochs", type=int, default=200, show_default=True)
@click.option(
    "--hidden", help="Hidden layer sizes, or conv filters (default: 5,2 dense; 32,16 conv)."
)
@click.option("--activation", default="linear", show_default=True)
@click.option(
    "--window",
    type=int,
    default=1,
    show_default=True,
    help="Readings per window: each reading is scored with the window − 1 before it.",
)
@click.option(
    "--architecture", type=click.Choice(["dense", "conv"]), default="dense", show_default=True
)
@click.option("--calibration", type=click.Choice(METHODS), default="pot", show_default=True)
@click.option(
    "--target-far",
    type=float,
    default=0.001,
    show_default=True,
    help="False-alarm rate the threshold aims at.",
)
@click.option(
    "--holdout",
    type=float,
    default=0.3,
    show_default=True,
    help="Fraction of the data (its tail) held out for calibration.",
)
@click.option(
    "--margin",
    type=float,
    default=1.0,
    show_default=True,
    help="Multiply the calibrated threshold by this (headroom for drift).",
)
@click.option(
    "--persistence",
    default="1/1",
    show_default=True,
    help="Alarm when K of a device's last N windows are above the threshold (K/N).",
)
@click.option(
    "--validation",
    type=click.Choice(["tail", "random"]),
    default="tail",
    show_default=True,
    help="Windows early stopping watches: the newest fifth of the fitting data, or a random fifth.",
)
@click.option("--seed", type=int, default=0, show_default=True)
def train(
    data: str | None,
    out: str,
    simulate: int,
    columns: str | None,
    epochs: int,
    hidden: str | None,
    activation: str,
    window: int,
    architecture: str,
    calibration: str,
    target_far: float,
    holdout: float,
    margin: float,
    persistence: str,
    validation: str,
    seed: int,
) -> None:
    """Train a model bundle on normal DATA.csv, or on --simulate N simulated readings."""
    from detector.core.alarm import parse_persistence
    from detector.core.model import Architecture, TrainingOptions, default_hidden
    from detector.offline.train import TrainingPlan, train_bundle

    if window < 1:
        raise DataError(f"--window must be at least 1, got {window}")
    if not 0.0 < holdout < 1.0:
        raise DataError(f"--holdout must be between 0 and 1, got {holdout}")
    if not 1.0 <= margin <= 100.0:
        raise DataError(f"--margin must be between 1 and 100, got {margin}")
    rule = parse_persistence(persistence)
    values, channels, devices, source = training_data(data, simulate, columns, seed)
    sizes = parse_sizes(hidden) if hidden else default_hidden(architecture)
    arch = Architecture(architecture, sizes, activation, window)
    options = TrainingOptions(epochs=epochs, seed=seed, validation=validation)
    plan = TrainingPlan(arch, options, calibration, target_far, holdout, margin, rule)
    started = time.monotonic()
    meta = train_bundle(values, channels, out, plan, devices, source, echo_err)
    echo_err(f"trained in {time.monotonic() - started:.1f} s")
    click.echo(
        f"wrote {out} (version {meta['version']}, threshold {meta['calibration']['threshold']:.6g})"
    )


def training_data(data: str | None, simulate: int, columns: str | None, seed: int):
    """The training matrix, its channel names, devices and a description of its source."""
    if bool(data) == bool(simulate):
        raise DataError("give either DATA.csv or --simulate N (one of them)")
    if simulate:
        from producer.signal import CHANNELS
        from producer.simulator import Simulator

        sim = Simulator(devices=DEFAULT_SIMULATED_DEVICES, anomaly_rate=0.0, seed=seed)
        blocks = list(sim.blocks(total=simulate))
        values = np.concatenate([b.values for b in blocks])
        devices = np.concatenate([np.asarray(b.device) for b in blocks])
        return values, list(CHANNELS), devices, f"{simulate} simulated normal readings"
    from producer.tables import load_table

    table = load_table(data, parse_columns(columns))
    return table.values, table.channels, table.devices, str(data)


def scoring_options(command):
    """The options `score` and `evaluate` share: history, threshold and persistence overrides."""
    options = [
        click.option(
            "--history",
            type=click.Path(dir_okay=False),
            help="A CSV of the readings just before DATA: history for the first windows and the "
            "persistence rule; not scored into the output.",
        ),
        click.option("--threshold", type=float, help="Use this threshold, not the bundle's."),
        click.option("--persistence", help="Use this K/N rule, not the bundle's."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command()
@click.argument("bundle", type=click.Path())
@click.argument("data", type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Scores CSV.")
@click.option(
    "--reconstruction", is_flag=True, help="Also add the reconstruction of each channel (rec_*)."
)
@scoring_options
def score(
    bundle: str,
    data: str,
    out: str,
    reconstruction: bool,
    history: str | None,
    threshold: float | None,
    persistence: str | None,
) -> None:
    """Add error, score, is_anomaly and top_channel to every row of DATA.csv."""
    from detector.offline.score import score_csv, write_scored_csv

    started = time.monotonic()
    frame, scored, loaded = score_csv(bundle, data, history, threshold, persistence, reconstruction)
    write_scored_csv(Path(data), frame, scored, Path(out))
    flagged = int(scored["is_anomaly"].sum())
    elapsed = time.monotonic() - started
    click.echo(f"scored {len(frame)} rows in {elapsed:.1f} s, flagged {flagged}; wrote {out}")
    if reconstruction:
        rebuilt = scored[[f"rec_{c}" for c in loaded.channels]].to_numpy()
        mse = np.nanmean((frame[loaded.channels].to_numpy(dtype=float) - rebuilt) ** 2)
        click.echo(f"reconstruction MSE {mse:.4f} (raw units, over every channel of every row)")


@click.command()
@click.argument("bundle", type=click.Path())
@click.argument("data", type=click.Path())
@click.option("--label-column", help="The 0/1 or kind-name label column (default: detected).")
@click.option(
    "--plots",
    type=click.Path(file_okay=False),
    default="evaluation",
    show_default=True,
    help="Folder for the PNG plots.",
)
@click.option("--no-plots", is_flag=True, help="Print the figures only.")
@scoring_options
def evaluate(
    bundle: str,
    data: str,
    label_column: str | None,
    plots: str,
    no_plots: bool,
    history: str | None,
    threshold: float | None,
    persistence: str | None,
) -> None:
    """Precision, recall, F1, false-alarm and missed-alarm rates of BUNDLE on labelled DATA.csv."""
    from detector.offline import plots as draw
    from detector.offline.evaluate import quality, recall_by_kind, truth_of
    from detector.offline.score import score_csv
    from producer.tables import LABEL_COLUMNS

    frame, scored, loaded = score_csv(bundle, data, history, threshold, persistence)
    label_column = label_column or next((c for c in LABEL_COLUMNS if c in frame.columns), None)
    if label_column is None or label_column not in frame.columns:
        raise DataError(f"{data}: no label column (looked for {', '.join(LABEL_COLUMNS)})")
    labels = frame[label_column].to_numpy()
    truth = truth_of(labels)
    flagged = scored["is_anomaly"].to_numpy().astype(bool)
    result = quality(truth, flagged)
    for key, value in result.summary().items():
        click.echo(f"{key:>10}  {value:.4f}" if isinstance(value, float) else f"{key:>10}  {value}")
    for kind, recall in recall_by_kind(labels, flagged).items():
        click.echo(f"{'recall ' + kind:>26}  {recall:.4f}")
    if no_plots:
        return
    folder = Path(plots)
    error = scored["error"].to_numpy()
    known = np.isfinite(error)
    threshold = threshold or loaded.threshold
    written = [
        draw.error_histogram(error[known], truth[known], threshold, folder / "errors.png"),
        draw.timeline(error, flagged, truth, threshold, folder / "timeline.png"),
    ]
    curves = loaded.meta.get("training", {}).get("curves")
    if curves:
        written.append(draw.loss_curves(curves, folder / "loss.png"))
    echo_err("plots: " + ", ".join(str(p) for p in written))


@click.command()
@click.argument("bundle", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print bundle.json as it is.")
def info(bundle: str, as_json: bool) -> None:
    """What a bundle holds: version, channels, window, architecture, threshold, training."""
    from detector.core.alarm import persistence_of
    from detector.core.bundle import load_bundle

    meta = load_bundle(bundle).meta
    if as_json:
        click.echo(json.dumps(meta, indent=2))
        return
    cal, arch, summary = meta["calibration"], meta.get("architecture", {}), meta.get("training", {})
    lines = [
        f"bundle       {bundle}",
        f"version      {meta['version']}",
        f"channels     {', '.join(meta['channels'])}",
        f"window       {meta['window']}",
        f"architecture {arch.get('kind')} hidden={arch.get('hidden')} "
        f"activation={arch.get('activation')}",
        f"threshold    {cal['threshold']:.6g} ({cal.get('method')}, target FAR "
        f"{cal.get('target_far')}, margin {cal.get('details', {}).get('margin', 1)}, "
        f"{cal.get('holdout_size')} held-out windows)",
        f"persistence  {persistence_of(meta)} (alarm when k of a device's last n are above)",
        "held-out     " + ", ".join(f"q{k}={v:.4g}" for k, v in cal.get("quantiles", {}).items()),
        f"training     {summary.get('source')}: {summary.get('epochs_run')} epochs, "
        f"val_loss {summary.get('val_loss')}, MSE {summary.get('mse_raw_units')} raw units",
    ]
    click.echo("\n".join(lines))
