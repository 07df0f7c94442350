"""The evaluation's plots as a user reads them: titled, time on the x axis when the CSV has a
time column, one panel per device, missed anomalies marked, a legend that hides no point, whole
epochs on the loss plot."""

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.offline.evaluate import Evaluation, quality
from detector.offline.plots import histogram_figure, loss_figure, time_axis, timeline_figure


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def result(n=400, devices=3, times=None, time_column=None, seed=0):
    """An Evaluation of n rows of `devices` interleaved devices with two labelled stretches."""
    rng = np.random.default_rng(seed)
    error = rng.lognormal(-7, 0.5, n)
    truth = np.zeros(n, bool)
    truth[100:130] = truth[300:320] = True
    error[truth] *= rng.uniform(0.5, 50, truth.sum())
    flagged = error > 0.003
    names = np.array([f"pump-{i % devices}" for i in range(n)])
    return Evaluation(quality(truth, flagged), {}, 0, error, truth, flagged, names, times,
                      time_column)


def test_timeline_has_a_title_one_panel_per_device_and_time_on_x():
    stamps = 1_796_000_000 + np.arange(400) // 3
    fig = timeline_figure(result(times=stamps, time_column="ts"), 0.003, "data.csv")
    axes = fig.get_axes()
    assert len(axes) == 3 and "data.csv" in fig.get_suptitle()
    assert [ax.get_ylabel().split("\n")[0] for ax in axes] == ["pump-0", "pump-1", "pump-2"]
    assert axes[-1].get_xlabel() == "ts (UTC)"
    assert isinstance(axes[-1].xaxis.get_major_formatter(),
                      mdates.AutoDateFormatter | mdates.ConciseDateFormatter)
    low, high = axes[0].get_xlim()
    assert mdates.num2date(low).year == mdates.num2date(high).year == 2026


def test_every_missed_anomaly_is_marked_and_the_legend_is_outside_the_panels():
    shown = result(devices=1)
    fig = timeline_figure(shown, 0.003, "data.csv")
    fig.canvas.draw()
    (ax,) = fig.get_axes()
    missed = next(c for c in ax.collections if c.get_label() == "missed anomaly")
    flagged = next(c for c in ax.collections if c.get_label() == "flagged")
    assert len(missed.get_offsets()) == int((shown.truth & ~shown.flagged).sum()) > 0
    assert len(flagged.get_offsets()) == int(shown.flagged.sum())
    (legend,) = fig.legends
    box = legend.get_window_extent()
    assert not box.overlaps(ax.get_window_extent())
    assert {t.get_text() for t in legend.get_texts()} >= {"flagged", "missed anomaly"}


def test_more_devices_than_panels_says_so_in_the_title():
    fig = timeline_figure(result(n=600, devices=10), 0.003, "many.csv")
    assert len(fig.get_axes()) == 6 and "first 6 of 10 devices" in fig.get_suptitle()


@pytest.mark.parametrize(("times", "label", "kind"), [
    (None, "row", "i"),
    (np.array(["2020-03-09 10:14:33", "2020-03-09 10:14:34"]), "datetime", "M"),
    (np.array([0.0, 0.5]), "time_s", "f"),
    (np.array(["morning", "noon"]), "row", "i"),
])
def test_time_axis_reads_dates_epoch_seconds_and_numbers(times, label, kind):
    name = None if times is None else label if label != "row" else "when"
    x, shown = time_axis(times, name, 2)
    assert shown == label and x.dtype.kind == kind


@given(st.integers(1, 300))
@settings(max_examples=10, deadline=None)
def test_loss_plot_has_whole_epoch_ticks_and_a_title(epochs):
    fig = loss_figure({"loss": list(np.geomspace(1, 0.01, epochs)), "val_loss": [0.5] * epochs})
    fig.canvas.draw()
    ax = fig.get_axes()[0]
    plt.close(fig)
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks) and ax.get_title()


def test_histogram_has_a_title_and_shows_the_threshold():
    shown = result()
    fig = histogram_figure(shown.error, shown.truth, 0.003, "data.csv")
    ax = fig.get_axes()[0]
    assert "data.csv" in ax.get_title()
    assert any("threshold" in t.get_text() for t in ax.get_legend().get_texts())
