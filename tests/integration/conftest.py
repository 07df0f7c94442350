"""Fixtures for the integration tests (real Kafka); the broker comes from tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kafka import KafkaProducer


@pytest.fixture
def kafka_producer(kafka_bootstrap: str) -> Iterator[KafkaProducer]:
    """A producer on the session's broker that waits for every write (acks=all); closed after."""
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=0)
    yield producer
    producer.close(timeout=10)
