"""What `producer simulate` simulates and how fast it sends: typed, each default written once
(the command line builds its options from these fields). Pure: no click, no Kafka."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from producer.simulator import Simulator
from shared.settings import Meta, Settings, setting

MAX_DEVICES = 10_000
MAX_COUNT = 1_000_000_000
MAX_DRIFT = 1000.0


@dataclass(frozen=True)
class SimulationSettings(Settings):
    """The simulated plant (devices, anomalies, drift, seed) and the pace of sending."""

    label = "simulation settings"

    devices: Annotated[int, Meta(ge=1, le=MAX_DEVICES)] = setting(4, help="Simulated devices.")
    rate: Annotated[float, Meta(ge=0)] = setting(
        100.0, help="Readings per second in all (0 = as fast as possible).")
    count: Annotated[int, Meta(ge=0, le=MAX_COUNT)] = setting(
        0, help="Readings to send (0 = forever; --output needs one).")
    anomaly_rate: Annotated[float, Meta(ge=0, lt=1)] = setting(
        0.002, help="Chance per reading that an anomaly starts.")
    seed: Annotated[int, Meta(ge=0, le=2**32 - 1)] = setting(0, help="Random seed.")
    drift: Annotated[float, Meta(ge=-MAX_DRIFT, le=MAX_DRIFT)] = setting(
        0.0, help="Slow drift of normal operation: every channel moves by this many units per "
        "1,000 readings of a device (labelled normal; the retrainer's demo).")

    def __post_init__(self) -> None:
        self.check_ranges()

    def simulator(self) -> Simulator:
        """The simulator these settings describe."""
        return Simulator(self.devices, self.anomaly_rate, self.seed, self.drift)
