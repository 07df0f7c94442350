"""Why a Kafka client could not connect, in one line that says what to fix.

kafka-python gives up on a broker with "Unable to bootstrap" and says why only in its log lines,
librdkafka in its error callback; those are matched here against what each misconfiguration looks
like with either (measured on the local stack's secured broker: tests/integration/
test_secure_kafka.py, on both clients).
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Callable
from typing import Any

CHECK_LOGIN = ("check the username and password (--sasl-username, {prefix}_SASL_PASSWORD or "
               "--sasl-password-file) and the mechanism")
USE_TLS = "set --security-protocol SSL or SASL_SSL (and --ssl-cafile if its CA is private)"
# (pattern in the client's errors, what it means, what to fix); the first that matches wins.
CAUSES: list[tuple[str, str, str]] = [
    (r"SaslAuthenticationFailed|Authentication failed",
     "the broker refused the SASL login of user {user} ({mechanism})", CHECK_LOGIN),
    (r"UnsupportedSaslMechanism|Unsupported SASL mechanism",
     "the broker does not offer SASL mechanism {mechanism}",
     "use one the broker enables (--sasl-mechanism)"),
    (r"Hostname mismatch|IP address mismatch",
     "the broker's TLS certificate does not name the host {host}",
     "connect by a name the certificate holds, or (not for production) --no-ssl-check-hostname"),
    (r"CERTIFICATE_VERIFY_FAILED|broker certificate could not be verified",
     "the broker's TLS certificate is not signed by a CA this client trusts",
     "give the broker's CA certificate with --ssl-cafile (or ssl.truststore.location)"),
    # librdkafka (OpenSSL 3) names the alert the broker sent: a certificate it refuses
    (r"alert (bad certificate|unknown ca|certificate unknown|certificate expired)",
     "the broker does not accept this client's certificate",
     "use a client certificate signed by a CA the broker trusts, still valid"),
    (r"ALERT_BAD_CERTIFICATE|CERTIFICATE_REQUIRED|alert certificate required",
     "the broker wants a client certificate (mutual TLS) and got none it accepts",
     "give --ssl-certfile and --ssl-keyfile, a certificate signed by a CA the broker trusts"),
    (r"ALERT_CERTIFICATE_UNKNOWN|ALERT_UNKNOWN_CA|ALERT_CERTIFICATE_EXPIRED",
     "the broker does not accept this client's certificate",
     "use a client certificate signed by a CA the broker trusts, still valid"),
    (r"Invalid frame length|Invalid receive", "{address} answered in TLS, not plain Kafka",
     USE_TLS),
    (r"UNEXPECTED_EOF|WRONG_VERSION_NUMBER|record layer failure|packet length too long",
     "{address} does not speak TLS",
     "use its TLS port, or --security-protocol PLAINTEXT / SASL_PLAINTEXT if it has none"),
    # A loaded client can read the broker's close before its refusal (kafka-python then says
    # only "socket disconnected"): a connection lost after the broker answered (so past TLS),
    # while logging in, is the login refused.
    (r"SASL_\w+ .*broker_version=\(\d[^)]*\) \(disconnected\)>: Connection lost",
     "the broker closed the connection during the SASL login of user {user} ({mechanism})",
     CHECK_LOGIN),
    (r"AuthorizationFailed|AuthorizationError",
     "the broker does not allow user {user} what this command needs",
     "ask for the ACLs listed in docs/operations.md"),
]


def speaks_tls(address: str, timeout: float = 3.0) -> bool:
    """True when the first of the bootstrap `address`es completes a TLS handshake (unverified:
    this only asks which protocol the port speaks)."""
    host, _, port = address.split(",")[0].strip().rpartition(":")
    host = host.strip("[]")
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with (socket.create_connection((host, int(port)), timeout=timeout) as raw,
              context.wrap_socket(raw, server_hostname=host)):
            return True
    except (OSError, ValueError):
        return False


def explain(what: str, exc: BaseException, errors: list[str], connection: Any, hint: str,
            probe: Callable[[str], bool] = speaks_tls) -> str:
    """One line: what went wrong connecting `what` (consumer, producer, admin) and the fix.

    When the client's errors do not say, a plaintext client asks `probe` whether the port
    speaks TLS (the broker's refusal of a plaintext client often arrives as a bare close)."""
    security = connection.security
    address = connection.bootstrap
    facts = {
        "address": address,
        "host": address.split(",")[0].rsplit(":", 1)[0],
        "user": repr(security.username),
        "mechanism": security.mechanism,
        "prefix": connection.prefix,
    }
    said = "\n".join(f"{security.protocol} {line}" for line in
                     [*errors, f"{type(exc).__name__}: {exc}"])
    for pattern, meaning, fix in CAUSES:
        if re.search(pattern, said):
            return (f"cannot connect to Kafka at {address} as {security.protocol} ({what}): "
                    f"{meaning.format(**facts)}; {fix.format(**facts)}")
    if not security.uses_tls and probe(address):
        return (f"cannot connect to Kafka at {address} as {security.protocol} ({what}): "
                f"{address} answered in TLS, not plain Kafka; {USE_TLS}")
    refused = "refused" if re.search(r"Connection refused|ECONNREFUSED|Errno 111", said) else ""
    last = errors[-1] if errors else f"{type(exc).__name__}: {exc}"
    return (f"cannot reach the Kafka broker at {address} within 10 s ({what}: "
            f"{'connection refused' if refused else short(last)}); {hint}")


def short(text: str, limit: int = 200) -> str:
    """The text on one line, cut to `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
