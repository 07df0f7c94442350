"""The serve loop's settings: the topics it reads and writes, and its tunables (value classes)."""

from __future__ import annotations

from dataclasses import dataclass

from detector.core.windows import MAX_DEVICES


@dataclass(frozen=True)
class Topics:
    readings: str = "readings"
    anomalies: str = "anomalies"
    dlq: str = "readings.dlq"


@dataclass(frozen=True)
class Options:
    max_records: int = 5000  # records per poll, scored in one call
    poll_timeout_ms: int = 500
    settle_poll_ms: int = 50  # poll timeout while sent batches wait for their commit
    idle: float = 0.2  # seconds to wait after a poll that came back empty at once
    tick: float = 0.1  # longest wait for acknowledgements between two polls while busy
    send_attempts: int = 6  # the first send and 5 retries
    send_timeout: float = 30.0  # seconds to wait for a batch's acknowledgements
    revoke_wait: float = 3.0  # ... on revocation: well below the session timeout (10 s)
    backoff: float = 1.0  # seconds before the first retry of a send, and after a failed poll
    backoff_max: float = 30.0
    lag_interval: float = 5.0  # seconds between consumer-lag updates
    ack_patience: float = 10.0  # seconds a send may wait for its acknowledgement while ready
    score_delay: float = 0.0  # extra seconds of scoring per reading: a slow-model drill (tests)
    max_poll_interval: float = 300.0  # the consumer's max.poll.interval.ms, in seconds
    collect_interval: float = 60.0  # seconds between full garbage collections
    max_devices: int = MAX_DEVICES  # devices whose windows and persistence bits are remembered
    warmup_records: int = 100_000  # records per partition replayed to rebuild device memory
