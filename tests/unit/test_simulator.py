"""The simulator: seeded, correlated, and its anomalies of the documented size."""

import subprocess
import sys

import numpy as np

from producer.anomalies import DURATION, KINDS, SPIKE
from producer.signal import NOISE, clean_values, level_at, seed_sequences
from producer.simulator import Simulator


def test_same_seed_same_stream_other_seed_other_stream():
    a = Simulator(devices=3, anomaly_rate=0.01, seed=7).block(500)
    b = Simulator(devices=3, anomaly_rate=0.01, seed=7).block(500)
    c = Simulator(devices=3, anomaly_rate=0.01, seed=8).block(500)
    assert np.array_equal(a.values, b.values) and a.label == b.label
    assert not np.array_equal(a.values, c.values)


def test_normal_channels_follow_and_mirror_the_level_within_the_noise():
    sim = Simulator(devices=1, seed=1)
    values = sim.block(1000).values
    level = level_at(np.arange(1000), sim.devices[0].phase)
    residual = values - clean_values(level)
    assert np.abs(residual).max() <= NOISE
    assert np.abs(residual).max() > 0.9 * NOISE
    assert np.corrcoef(values[:, 0], values[:, 1])[0, 1] < -0.99
    assert np.corrcoef(values[:, 0], values[:, 2])[0, 1] > 0.99


def test_devices_are_interleaved_and_have_their_own_phase():
    block = Simulator(devices=2, seed=3).block(4)
    assert block.device == ["device-1", "device-2"] * 4
    assert block.seq.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert not np.allclose(block.values[0::2], block.values[1::2], atol=5)


def test_every_kind_is_injected_and_labelled_for_its_duration():
    block = Simulator(devices=4, anomaly_rate=0.02, seed=11).block(20_000)
    labels = np.asarray(block.label)
    assert set(KINDS) <= set(labels.tolist())
    assert np.sum(labels == "spike") >= 10
    # a ten-reading correlation break labels ten consecutive readings of one device
    device = np.asarray(block.device)
    one = labels[device == "device-1"]
    runs = np.diff(np.flatnonzero(np.diff((one == "correlation_break").astype(int))))
    assert set(runs[::2].tolist()) <= {DURATION["correlation_break"]}


def test_a_spike_moves_one_channel_by_its_magnitude():
    sim = Simulator(devices=1, anomaly_rate=0.02, seed=5)
    block = sim.block(5000)
    level = level_at(block.seq, sim.devices[0].phase)
    residual = block.values - clean_values(level)
    spikes = np.asarray(block.label) == "spike"
    biggest = np.abs(residual[spikes]).max(axis=1)
    assert np.all(biggest >= SPIKE - NOISE) and np.all(biggest <= SPIKE + NOISE)


def test_a_correlation_break_puts_the_channel_at_least_30_off_its_mirror():
    sim = Simulator(devices=1, anomaly_rate=0.02, seed=9)
    block = sim.block(20_000)
    level = level_at(block.seq, sim.devices[0].phase)
    breaks = np.asarray(block.label) == "correlation_break"
    offset = np.abs(block.values - clean_values(level))[breaks].max(axis=1)
    assert breaks.sum() >= 50
    assert offset.min() >= 30 - 2 * NOISE


def test_blocks_stop_at_the_count():
    total = sum(len(b) for b in Simulator(devices=3, seed=0).blocks(total=1001, chunk=100))
    assert total == 1001


def test_seed_sequences_are_the_seeds_data():
    x = seed_sequences()
    assert x.shape == (100, 5)
    assert abs(x[0, 0]) <= NOISE and abs(x[-1, 0] - 100) <= NOISE
    assert abs(x[0, 1] - 100) <= NOISE and abs(x[-1, 1]) <= NOISE


def test_the_producer_never_imports_tensorflow():
    code = "import sys, producer.cli, producer.replay; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
