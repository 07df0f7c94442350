"""Connecting to Kafka, for every command that does: the security options they share, reading
them (with a client properties file, and secrets from the environment or a file), building a
client with one clear error when it cannot connect, and scrubbing secrets from log lines.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import click

from shared.kafka_diagnosis import explain
from shared.kafka_settings import (
    MECHANISMS,
    PROTOCOLS,
    Secret,
    Security,
    check,
    client_kwargs,
    from_properties,
    parse_properties,
)
from shared.wire import InputError

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_MS = 10_000
SECRET_FILE = click.Path(exists=True, dir_okay=False, readable=True)


def security_options(prefix: str) -> Callable[[Callable], Callable]:
    """The security options, each also read from PREFIX_<NAME> (e.g. DETECTOR_SASL_USERNAME).

    The SASL password and the key passphrase have no option of their own: they come from
    PREFIX_SASL_PASSWORD / PREFIX_SSL_KEY_PASSWORD or from a file, never the command line.
    """

    def opt(name: str, **kwargs: Any) -> Callable:
        env = f"{prefix}_{name.split('/')[0].upper().replace('-', '_')}"
        return click.option(f"--{name}", envvar=env, show_envvar=True, **kwargs)

    declared = [
        opt("kafka-config", type=click.Path(dir_okay=False),
            help="A Kafka client properties file (security.protocol, sasl.mechanism, "
                 "sasl.jaas.config, ssl.truststore.location ...; docs/operations.md). Options "
                 "given beside it win."),
        opt("security-protocol", type=click.Choice(PROTOCOLS, case_sensitive=False),
            help="How to talk to the broker  [default: PLAINTEXT]"),
        opt("sasl-mechanism", type=click.Choice(MECHANISMS, case_sensitive=False),
            help="SASL mechanism (with SASL_SSL or SASL_PLAINTEXT)."),
        opt("sasl-username", help="SASL user name."),
        opt("sasl-password-file", type=SECRET_FILE,
            help=f"File holding the SASL password (or set {prefix}_SASL_PASSWORD)."),
        opt("ssl-cafile", type=SECRET_FILE, help="PEM file of the CA(s) that sign the broker's "
            "certificate  [default: the system's CAs]"),
        opt("ssl-certfile", type=SECRET_FILE, help="PEM client certificate (mutual TLS)."),
        opt("ssl-keyfile", type=SECRET_FILE, help="PEM key of the client certificate."),
        opt("ssl-key-password-file", type=SECRET_FILE,
            help=f"File holding the key's passphrase (or set {prefix}_SSL_KEY_PASSWORD)."),
        opt("ssl-check-hostname/--no-ssl-check-hostname", default=None,
            help="Check that the broker's certificate names the host  [default: on]"),
    ]

    def decorate(command: Callable) -> Callable:
        for add in reversed(declared):
            command = add(command)
        return command

    return decorate


@dataclass(frozen=True)
class Connection:
    """Where the broker is and how to talk to it (checked settings)."""

    bootstrap: str
    security: Security = field(default_factory=lambda: check(Security()))
    prefix: str = "KAFKA"  # of the environment variables the settings came from

    @cached_property
    def client_kwargs(self) -> dict[str, Any]:
        """kafka-python's keyword arguments (one TLS context, read once, for every client)."""
        return {"bootstrap_servers": self.bootstrap.split(","), **client_kwargs(self.security)}


def secret_from(prefix: str, name: str, path: str | None) -> Secret | None:
    """A secret from its file (first line, newline stripped) or from PREFIX_NAME."""
    if path:
        text = Path(path).read_text(errors="strict").splitlines()
        if not text or not text[0]:
            raise InputError(f"the secret file {path} is empty")
        return Secret(text[0])
    value = os.environ.get(f"{prefix}_{name}")
    return Secret(value) if value else None


def connection_from(opts: dict[str, Any], prefix: str, bootstrap: str | None,
                    default: str | None = None) -> Connection:
    """The connection the options describe; `bootstrap` None means not given (then the
    properties file's bootstrap.servers, else `default`, else an InputError). Its CA and key
    files are read now (a bad one stops start-up) and its secrets kept out of log lines."""
    base, file_bootstrap = Security(), None
    if opts.get("kafka_config"):
        path = opts["kafka_config"]
        try:
            props = parse_properties(Path(path).read_text())
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the Kafka properties file {path}: {exc}") from None
        base, used, ignored = from_properties(props, path)
        file_bootstrap = used.get("bootstrap.servers")
        if ignored:
            log.warning("%s: ignoring %s (only the connection settings are read)", path,
                        ", ".join(sorted(ignored)))
    given = Security(
        protocol=opts.get("security_protocol"), mechanism=opts.get("sasl_mechanism"),
        username=opts.get("sasl_username"),
        password=secret_from(prefix, "SASL_PASSWORD", opts.get("sasl_password_file")),
        cafile=opts.get("ssl_cafile"), certfile=opts.get("ssl_certfile"),
        keyfile=opts.get("ssl_keyfile"),
        key_password=secret_from(prefix, "SSL_KEY_PASSWORD", opts.get("ssl_key_password_file")),
        check_hostname=opts.get("ssl_check_hostname"),
    )
    address = bootstrap or file_bootstrap or default
    if not address:
        raise InputError(f"no Kafka address: give --bootstrap HOST:PORT ({prefix}_BOOTSTRAP) or "
                         "bootstrap.servers in --kafka-config")
    connection = Connection(address.strip(), check(given.over(base)), prefix)
    connection.client_kwargs  # noqa: B018 (builds the TLS context now)
    scrub_logs(connection.security)
    return connection


def connect(what: str, factory: Any, connection: Connection, hint: str, **config: Any) -> Any:
    """A Kafka client, or an InputError saying in one line why it cannot connect and what to
    fix (`hint` names the command's bootstrap option and how to start a broker)."""
    with recorded_errors() as errors:
        try:
            return factory(**connection.client_kwargs, bootstrap_timeout_ms=CONNECT_TIMEOUT_MS,
                           **config)
        except Exception as exc:
            raise InputError(explain(what, exc, errors, connection, hint)) from None


class Recorder(logging.Handler):
    """Keeps the messages of the records it is handed."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def recorded_errors() -> Iterator[list[str]]:
    """The Kafka client's error lines while the block runs, kept off stderr."""
    logger, recorder = logging.getLogger("kafka"), Recorder()
    saved = logger.level, logger.propagate
    logger.addHandler(recorder)
    logger.setLevel(min(logger.getEffectiveLevel(), logging.ERROR))
    logger.propagate = False
    try:
        yield recorder.messages
    finally:
        logger.removeHandler(recorder)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


class Scrubber(logging.Filter):
    """Replaces each secret in a record's message with ***."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = {s for s in secrets if s}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


SCRUBBER = Scrubber([])  # one filter for the process, however many connections it reads


def scrub_logs(security: Security) -> None:
    """Keep the secrets of `security` out of the lines of every handler the root logger has
    (configure logging first) or, with none, of logging's last resort."""
    if not security.secrets():
        return
    SCRUBBER.secrets.update(security.secrets())
    handlers: list[logging.Handler | None] = [*logging.getLogger().handlers]
    for handler in handlers or [logging.lastResort]:
        if handler is not None and SCRUBBER not in handler.filters:
            handler.addFilter(SCRUBBER)
