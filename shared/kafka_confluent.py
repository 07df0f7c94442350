"""confluent-kafka (librdkafka) clients for every command that offers `--kafka-client confluent`:
the one mapping of the project's connection settings onto librdkafka's, and building a client
with the same one-line diagnosis as kafka-python's (shared.kafka_diagnosis).

`librdkafka_config` is pure. The dict it returns holds the revealed secrets librdkafka needs:
it is handed to the client and never logged (librdkafka does not log its configuration).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import click

from shared.kafka_diagnosis import explain
from shared.kafka_settings import Security
from shared.wire import InputError

CONNECT_TIMEOUT_S = 10.0
LOG = logging.getLogger("kafka.librdkafka")  # "kafka": quiet unless --log-level debug


class KafkaClient(StrEnum):
    """Which Kafka client library a command talks through."""

    KAFKA_PYTHON = "kafka-python"
    CONFLUENT = "confluent"


def kafka_client_option(prefix: str) -> Callable[[Callable], Callable]:
    """`--kafka-client`, also read from PREFIX_KAFKA_CLIENT."""
    return click.option(
        "--kafka-client", type=click.Choice([c.value for c in KafkaClient]),
        default=KafkaClient.KAFKA_PYTHON.value, show_default=True, envvar=f"{prefix}_KAFKA_CLIENT",
        show_envvar=True, help="The Kafka client library: kafka-python, or confluent (librdkafka).")


def librdkafka_config(bootstrap: str, security: Security) -> dict[str, str]:
    """librdkafka's settings for checked security settings (docs/security.md's options and
    properties files, mapped in this one place)."""
    config = {"bootstrap.servers": bootstrap,
              "security.protocol": (security.protocol or "PLAINTEXT").lower()}
    if security.uses_tls:
        config["ssl.ca.location"] = security.cafile or "probe"  # probe: the system's CAs
        if security.certfile:
            config["ssl.certificate.location"] = security.certfile
        if security.keyfile:
            config["ssl.key.location"] = security.keyfile
        if security.key_password:
            config["ssl.key.password"] = security.key_password.reveal()
        config["ssl.endpoint.identification.algorithm"] = (
            "none" if security.check_hostname is False else "https")
    if security.uses_sasl:
        config["sasl.mechanism"] = str(security.mechanism)
        config["sasl.username"] = str(security.username)
        config["sasl.password"] = security.password.reveal() if security.password else ""
    return config


class Errors:
    """A client's error callback: the last errors it reported, for the diagnosis (librdkafka's
    own log lines say the same on the logger)."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=20)

    def __call__(self, error: Any) -> None:
        self.lines.append(f"{error.name()}: {error.str()}")


def open_client(what: str, factory: Callable[[dict[str, Any]], Any], connection: Any, hint: str,
                config: dict[str, Any], check: Callable[[Any], None] | None = None) -> Any:
    """A confluent-kafka client that has fetched the cluster's metadata, or an InputError saying
    in one line why it cannot connect (`hint` as in shared.kafka_client.connect). `check` asks
    one more question of the broker before the client counts as connected."""
    errors = Errors()
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        LOG.setLevel(logging.CRITICAL)  # as kafka-python's lines: only with --log-level debug
    settings = {**librdkafka_config(connection.bootstrap, connection.security),
                "error_cb": errors, "logger": LOG, **config}
    client = None
    try:
        client = factory(settings)
        client.list_topics(timeout=CONNECT_TIMEOUT_S)
        if check is not None:
            check(client)
        return client
    except Exception as exc:
        if client is not None:
            client.poll(0)  # serves the error callbacks that say why
        raise InputError(explain(what, exc, list(errors.lines), connection, hint)) from None
