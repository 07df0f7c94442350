"""A seeded, endless, vectorised stream of readings from many devices with labelled anomalies."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from producer.anomalies import KINDS, Anomaly, apply_anomaly, plan_anomaly
from producer.signal import CHANNELS, PERIOD, drifted, level_at, noisy_values
from shared.wire import LABELS


@dataclass(frozen=True)
class Block:
    """Consecutive readings of all devices, interleaved round-robin (one row per reading)."""

    device: list[str]
    seq: np.ndarray
    values: np.ndarray
    label: list[str]

    def __len__(self) -> int:
        return len(self.device)


class DeviceStream:
    """One device: its own phase, noise and anomaly schedule."""

    def __init__(self, name: str, rng: np.random.Generator, anomaly_rate: float,
                 drift: float = 0.0) -> None:
        self.name = name
        self.rng = rng
        self.anomaly_rate = anomaly_rate
        self.drift = drift
        self.phase = int(rng.integers(PERIOD))
        self.step = 0
        self.pending: list[Anomaly] = []
        self.next_start = self._gap(0)

    def _gap(self, after: int) -> int:
        """The step at which the next anomaly starts (geometric gaps), or -1 for none."""
        if self.anomaly_rate <= 0:
            return -1
        return after + int(self.rng.geometric(self.anomaly_rate))

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The next n readings: steps, values (n, 5) and label codes (index into LABELS)."""
        steps = np.arange(self.step, self.step + n)
        values = drifted(noisy_values(level_at(steps, self.phase), self.rng), steps, self.drift)
        labels = np.zeros(n, dtype=np.int8)
        while 0 <= self.next_start < self.step + n:
            kind = KINDS[int(self.rng.integers(len(KINDS)))]
            anomaly = plan_anomaly(kind, self.next_start, self.phase, self.rng)
            self.pending.append(anomaly)
            self.next_start = self._gap(anomaly.end)
        for anomaly in self.pending:
            mask = apply_anomaly(anomaly, steps, values, self.rng)
            labels[mask] = LABELS.index(anomaly.kind)
        self.pending = [a for a in self.pending if a.end > self.step + n]
        self.step += n
        return steps, values, labels


class Simulator:
    """Readings from `devices` devices named device-1…N, seeded and repeatable; `drift` raises
    every channel of normal operation by that many units per 1,000 readings of a device."""

    def __init__(self, devices: int = 1, anomaly_rate: float = 0.0, seed: int = 0,
                 drift: float = 0.0) -> None:
        if devices < 1:
            raise ValueError("devices must be at least 1")
        if not 0.0 <= anomaly_rate < 1.0:
            raise ValueError("anomaly rate must be in [0, 1)")
        if not np.isfinite(drift):
            raise ValueError("drift must be a finite number")
        seeds = np.random.SeedSequence(seed).spawn(devices)
        self.devices = [
            DeviceStream(f"device-{i + 1}", np.random.default_rng(s), anomaly_rate, drift)
            for i, s in enumerate(seeds)
        ]

    def block(self, per_device: int) -> Block:
        """The next `per_device` readings of every device, interleaved round-robin."""
        parts = [d.take(per_device) for d in self.devices]
        seq = np.stack([p[0] for p in parts], axis=1).reshape(-1)
        values = np.stack([p[1] for p in parts], axis=1).reshape(-1, len(CHANNELS))
        codes = np.stack([p[2] for p in parts], axis=1).reshape(-1)
        names = [d.name for d in self.devices] * per_device
        return Block(names, seq, values, [LABELS[c] for c in codes])

    def blocks(self, total: int = 0, chunk: int = 4096) -> Iterator[Block]:
        """Blocks of about `chunk` readings until `total` readings (0 = forever)."""
        per_device = max(1, chunk // len(self.devices))
        sent = 0
        while total <= 0 or sent < total:
            block = self.block(per_device)
            if total > 0 and sent + len(block) > total:
                block = _head(block, total - sent)
            sent += len(block)
            yield block


def _head(block: Block, n: int) -> Block:
    """The first n readings of a block."""
    return Block(block.device[:n], block.seq[:n], block.values[:n], block.label[:n])


def normal_values(rows: int, devices: int = 4, seed: int = 0) -> np.ndarray:
    """`rows` anomaly-free readings (n, 5) from `devices` devices."""
    sim = Simulator(devices=devices, anomaly_rate=0.0, seed=seed)
    return np.concatenate([b.values for b in sim.blocks(total=rows)])
