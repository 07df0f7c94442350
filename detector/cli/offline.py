"""The offline subcommands: train, score, evaluate, info (thin: parse, call the logic, print).

The order is always the same: options (checked by click as it parses), then output paths, then
input files, then the expensive part. TensorFlow is imported only once all of that passed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import numpy as np

from detector.cli.options import log_level, scoring_options, training_options
from detector.core.training_settings import TrainingSettings
from detector.errors import DataError
from detector.offline.score_settings import ScoreSettings
from shared.outputs import check_file, check_folder
from shared.wire import OutputError

DEFAULT_SIMULATED_DEVICES = 8


def echo_err(message: str) -> None:
    """Progress and notes go to stderr, results to stdout."""
    click.echo(message, err=True)


def parse_columns(text: str | None) -> list[str] | None:
    """`--columns a,b,c` as a list."""
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


@click.command()
@click.argument("data", required=False, type=click.Path(dir_okay=False))
@training_options
def train(
    data: str | None, out: str, simulate: int | None, columns: str | None,
    settings: TrainingSettings,
) -> None:
    """Train a model bundle on normal DATA.csv, or on --simulate N simulated readings."""
    from detector.offline.data_checks import check_training_data

    if bool(data) == bool(simulate):
        raise DataError("give either DATA.csv or --simulate N (one of them)")
    check_bundle_out(out)
    values, channels, devices, source, notes = read_training(data, simulate, columns,
                                                             settings.seed)
    check_training_data(values, channels, devices, settings.window, settings.holdout, source)
    for note in notes:  # after every refusal, so that a refusal stays one line
        echo_err(note)

    echo_err("loading TensorFlow ...")
    from detector.cli.progress import epoch_bar
    from detector.offline.train import train_bundle

    started = time.monotonic()
    meta = train_bundle(values, channels, out, settings, devices, source, echo_err, epoch_bar)
    echo_err(f"trained in {time.monotonic() - started:.1f} s")
    click.echo(
        f"wrote {out} (version {meta['version']}, threshold {meta['calibration']['threshold']:.6g})"
    )


def check_bundle_out(out: str) -> None:
    """`--out` must be a new folder, an empty one or a bundle to replace, somewhere writable."""
    folder = check_folder(out, "--out")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / "bundle.json").is_file():
        raise OutputError(
            f"--out {folder}: the folder holds other files and is not a model bundle; give a "
            "new or empty folder (train replaces only a bundle)"
        )


def training_data(
    data: str | None, simulate: int | None, columns: str | None, seed: int
) -> tuple[np.ndarray, list[str], np.ndarray | None, str]:
    """The training matrix, its channel names, devices and a description of its source."""
    return read_training(data, simulate, columns, seed)[:4]


def read_training(
    data: str | None, simulate: int | None, columns: str | None, seed: int
) -> tuple[np.ndarray, list[str], np.ndarray | None, str, tuple[str, ...]]:
    """The training matrix, its channel names, devices, a description of its source and notes
    for the user (the channels taken and left out, rows sorted or left out)."""
    if simulate:
        from producer.simulator import Simulator
        from shared.wire import CHANNELS

        sim = Simulator(devices=DEFAULT_SIMULATED_DEVICES, anomaly_rate=0.0, seed=seed)
        blocks = list(sim.blocks(total=simulate))
        values = np.concatenate([b.values for b in blocks])
        devices = np.concatenate([np.asarray(b.device) for b in blocks])
        return values, list(CHANNELS), devices, f"{simulate} simulated normal readings", ()
    from detector.offline.training_rows import training_rows
    from shared.tables import load_table

    if data is None:
        raise DataError("give either DATA.csv or --simulate N (one of them)")
    rows = training_rows(load_table(data, parse_columns(columns)), str(data))
    return rows.values, rows.channels, rows.devices, str(data), rows.notes


def check_inputs_apart(out: str, *inputs: str | None) -> None:
    """An output must not be one of the command's inputs."""
    for given in filter(None, inputs):
        if Path(out).resolve() == Path(given).resolve():
            raise OutputError(f"--out {out} is also an input ({given}): write to another file")


@click.command()
@click.argument("bundle", type=click.Path())
@click.argument("data", type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Scores CSV to write.")
@click.option(
    "--reconstruction", is_flag=True, help="Also add the reconstruction of each channel (rec_*)."
)
@scoring_options
def score(
    bundle: str, data: str, out: str, reconstruction: bool, settings: ScoreSettings
) -> None:
    """Add error, score, is_anomaly and top_channel to every row of DATA.csv."""
    check_file(out, "--out")
    check_inputs_apart(out, data, settings.history)
    from detector.offline.score import score_csv, write_scored_csv

    started = time.monotonic()
    frame, scored, loaded = score_csv(bundle, data, settings.history, settings.threshold,
                                      settings.persistence, reconstruction)
    write_scored_csv(Path(data), frame, scored, Path(out))
    flagged = int(scored["is_anomaly"].sum())
    elapsed = time.monotonic() - started
    click.echo(f"scored {len(frame)} rows in {elapsed:.1f} s, flagged {flagged}; wrote {out}")
    unscored = int(scored["error"].isna().sum())
    if unscored:
        echo_err(f"note: {unscored} rows have no full window of {loaded.window} readings (each "
                 "device's first); their error and score are empty: pass --history to score them")
    if reconstruction:
        rebuilt = scored[[f"rec_{c}" for c in loaded.channels]].to_numpy()
        mse = np.nanmean((frame[loaded.channels].to_numpy(dtype=float) - rebuilt) ** 2)
        click.echo(f"reconstruction MSE {mse:.4f} (raw units, over every channel of every row)")


@click.command()
@click.argument("bundle", type=click.Path())
@click.argument("data", type=click.Path())
@click.option("--label-column", help="The label column (default: the first of "
              "anomaly, changepoint, label, is_anomaly); its vocabulary is in docs/input.md.")
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
    bundle: str, data: str, label_column: str | None, plots: str, no_plots: bool,
    settings: ScoreSettings,
) -> None:
    """Precision, recall, F1, false-alarm and missed-alarm rates of BUNDLE on labelled DATA.csv."""
    if not no_plots:
        check_folder(plots, "--plots")
    from detector.core.alarm import persistence_of
    from detector.core.follow import follow_of
    from detector.offline.evaluate import evaluation
    from detector.offline.report import evaluation_lines
    from detector.offline.score import score_csv

    threshold, persistence = settings.threshold, settings.persistence
    frame, scored, loaded = score_csv(bundle, data, settings.history, threshold, persistence)
    result = evaluation(frame, scored, label_column, data)
    used = threshold or loaded.threshold
    rule = persistence or persistence_of(loaded.meta)
    lines = evaluation_lines(result, used, threshold is not None, loaded.meta["calibration"],
                             rule, persistence is not None)
    follow = follow_of(loaded.meta, threshold)
    if follow is not None:
        moved = " (moved with --threshold by the same factor)" if threshold is not None else ""
        lines.insert(1, f"threshold follow: {follow_text(follow.to_meta())}{moved}")
    click.echo("\n".join(lines))
    if result.unscored:
        echo_err(f"note: {result.unscored} rows have no full window of {loaded.window} readings "
                 "(each device's first) and are not counted: pass --history to count them")
    if no_plots:
        return
    from detector.offline.plots import draw_all

    curves = loaded.meta.get("training", {}).get("curves")
    written = draw_all(result, threshold or loaded.threshold, curves, Path(plots), Path(data).name)
    echo_err("plots: " + ", ".join(str(p) for p in written))


@click.command()
@click.argument("bundle", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print bundle.json as it is.")
@log_level
def info(bundle: str, as_json: bool) -> None:
    """What a bundle holds: version, channels, window, architecture, threshold, training."""
    from detector.core.alarm import persistence_of
    from detector.core.bundle import load_bundle

    meta = load_bundle(bundle).meta
    if as_json:
        click.echo(json.dumps(meta, indent=2))
        return
    cal, arch, summary = meta["calibration"], meta["architecture"], meta.get("training", {})
    residual = meta.get("residual", "squared")
    lines = [
        f"bundle       {bundle}",
        f"version      {meta['version']}",
        f"channels     {', '.join(meta['channels'])}",
        f"window       {meta['window']}",
        f"architecture {arch.get('kind')} hidden={arch.get('hidden')} "
        f"activation={arch.get('activation')}",
        f"threshold    {cal['threshold']:.6g} ({cal.get('method')}, target FAR "
        f"{cal.get('target_far')}, margin {cal.get('details', {}).get('margin', 1)}, "
        f"{cal.get('holdout_size')} held-out windows"
        + (f", drift headroom x{cal['details']['headroom']:.3g}" if "headroom" in
           cal.get("details", {}) else "") + ")",
        f"residual     {residual} (a channel's error: its mean {residual} gap, standard units; "
        f"the window's error: the {meta.get('combine', 'mean')} over channels)",
        f"centred      {', '.join(meta.get('centred', [])) or 'none'} (slow channels: the model "
        "sees each window of them centred on its own mean)",
        f"persistence  {persistence_of(meta)} (alarm when k of a device's last n are above)",
        f"follow       {follow_text(meta.get('threshold_follow'))}",
        "held-out     " + ", ".join(f"q{k}={v:.4g}" for k, v in cal.get("quantiles", {}).items()),
        f"training     {summary.get('source')}: {summary.get('epochs_run')} epochs, "
        f"val_loss {rounded(summary.get('val_loss'))} (standard units), "
        f"MSE {rounded(summary.get('mse_raw_units'))} (raw units)",
        "settings     " + ("recorded (training_settings: it can be trained again alike)"
                           if meta.get("training_settings") else
                           "not recorded (trained before bundles recorded them)"),
    ]
    click.echo("\n".join(lines))


def follow_text(follow: dict | None) -> str:
    """The threshold that follows the usual error, in words (off when none)."""
    if not follow or not follow.get("rows"):
        return "off (a fixed threshold)"
    return (f"{follow['lag']}/{follow['rows']} (the threshold is at least "
            f"{follow['calibrated_threshold']:.4g} x the median of the device's errors "
            f"{follow['lag']} to {follow['lag'] + follow['rows'] - 1} readings back, over "
            f"{follow['median']:.4g})")


def rounded(value: object) -> str:
    """A figure of `info` to 4 significant digits; what is not a number as it is."""
    return f"{value:.4g}" if isinstance(value, int | float) else str(value)
