"""Session fixtures shared by the integration and e2e tests: a real Kafka broker and its helpers,
and model bundles trained once per session.

The broker comes, in this order, from: the address in KAFKA_BOOTSTRAP; a Docker engine through
testcontainers (image apache/kafka:4.1.1); the local stack (`deploy/local/stack up kafka`).
When none works, the tests fail under CI=true and are skipped otherwise. The code behind the
fixtures lives in tests/helpers/.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from kafka import KafkaAdminClient
from kafka.consumer.fetcher import ConsumerRecord

from tests.helpers import REPO
from tests.helpers.broker import (
    broker_answers,
    consume_records,
    docker_answers,
    kafka_from_docker,
    kafka_from_local_stack,
    unique_name,
)
from tests.helpers.bundles import SERVE, Bundles

MakeTopic = Callable[..., str]
MakeGroup = Callable[..., str]
ConsumeAll = Callable[..., list[ConsumerRecord]]

# No property is judged by wall-clock time: a loaded machine must not fail an example that passes.
settings.register_profile("project", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("project")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests under tests/integration and tests/e2e by their folder."""
    tests = REPO / "tests"
    for item in items:
        folder = item.path.relative_to(tests).parts[0] if item.path.is_relative_to(tests) else ""
        if folder in ("integration", "e2e"):
            item.add_marker(getattr(pytest.mark, folder))


@pytest.fixture(scope="session")
def trained_bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundles:
    """Factory: trained_bundle(*train_options) -> a bundle that `detector train` made with those
    options, trained once per session for each set of options (copy it before changing it)."""
    return Bundles(tmp_path_factory.mktemp("bundles"))


@pytest.fixture(scope="session")
def serve_bundle(trained_bundle: Bundles) -> Path:
    """A bundle trained once per session on simulated normal readings, with few epochs: what
    the integration and e2e tests serve unless they need another."""
    return trained_bundle(*SERVE)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The address (host:port) of a real Kafka broker for this test session."""
    address = os.environ.get("KAFKA_BOOTSTRAP")
    if address:
        error = broker_answers(address)
        if error:
            pytest.fail(f"KAFKA_BOOTSTRAP={address} does not answer: {error}", pytrace=False)
        yield address
    elif docker_answers():
        yield from kafka_from_docker()
    else:
        yield from kafka_from_local_stack()


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> Iterator[KafkaAdminClient]:
    """One admin client for the session."""
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=30_000)
    yield admin
    admin.close()


@pytest.fixture
def make_topic(kafka_admin: KafkaAdminClient) -> Iterator[MakeTopic]:
    """Factory: make_topic(partitions=1, prefix="test") makes a fresh topic, deleted afterwards."""
    created: list[str] = []

    def make(partitions: int = 1, prefix: str = "test") -> str:
        name = unique_name(prefix)
        kafka_admin.create_topics(
            {name: {"num_partitions": partitions, "replication_factor": 1}},
            wait_for_metadata=True,
        )
        created.append(name)
        return name

    yield make
    if created:
        kafka_admin.delete_topics(created, raise_errors=False)


@pytest.fixture
def make_group() -> MakeGroup:
    """Factory: make_group(prefix="test-group") returns a fresh consumer-group id."""

    def make(prefix: str = "test-group") -> str:
        return unique_name(prefix)

    return make


@pytest.fixture
def consume_all(kafka_bootstrap: str) -> ConsumeAll:
    """Helper: consume_all(topic, min_records=0, idle=1.0, timeout=60.0) -> records, in order."""

    def consume(
        topic: str, *, min_records: int = 0, idle: float = 1.0, timeout: float = 60.0
    ) -> list[ConsumerRecord]:
        return consume_records(
            kafka_bootstrap, topic, min_records=min_records, idle=idle, timeout=timeout
        )

    return consume
