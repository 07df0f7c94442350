"""Why a Kafka client could not connect, in one line that says what to fix.

kafka-python gives up on a broker with "Unable to bootstrap" and says why only in its log lines;
those are matched here against what each misconfiguration looks like (measured on the local
stack's secured broker: tests/integration/test_secure_kafka.py).
"""

from __future__ import annotations

import re
from typing import Any

# (pattern in the client's errors, what it means, what to fix); the first that matches wins.
CAUSES: list[tuple[str, str, str]] = [
    (r"SaslAuthenticationFailed|Authentication failed",
     "the broker refused the SASL login of user {user} ({mechanism})",
     "check the username and password (--sasl-username, {prefix}_SASL_PASSWORD or "
     "--sasl-password-file) and the mechanism"),
    (r"UnsupportedSaslMechanism|Unsupported SASL mechanism",
     "the broker does not offer SASL mechanism {mechanism}",
     "use one the broker enables (--sasl-mechanism)"),
    (r"Hostname mismatch|IP address mismatch",
     "the broker's TLS certificate does not name the host {host}",
     "connect by a name the certificate holds, or (not for production) --no-ssl-check-hostname"),
    (r"CERTIFICATE_VERIFY_FAILED",
     "the broker's TLS certificate is not signed by a CA this client trusts",
     "give the broker's CA certificate with --ssl-cafile (or ssl.truststore.location)"),
    (r"ALERT_BAD_CERTIFICATE|CERTIFICATE_REQUIRED",
     "the broker wants a client certificate (mutual TLS) and got none it accepts",
     "give --ssl-certfile and --ssl-keyfile, a certificate signed by a CA the broker trusts"),
    (r"ALERT_CERTIFICATE_UNKNOWN|ALERT_UNKNOWN_CA|ALERT_CERTIFICATE_EXPIRED",
     "the broker does not accept this client's certificate",
     "use a client certificate signed by a CA the broker trusts, still valid"),
    (r"Invalid frame length|Invalid receive",
     "{address} answered in TLS, not plain Kafka",
     "set --security-protocol SSL or SASL_SSL (and --ssl-cafile if its CA is private)"),
    (r"UNEXPECTED_EOF|WRONG_VERSION_NUMBER|record layer failure|packet length too long",
     "{address} does not speak TLS",
     "use its TLS port, or --security-protocol PLAINTEXT / SASL_PLAINTEXT if it has none"),
    (r"AuthorizationFailed|AuthorizationError",
     "the broker does not allow user {user} what this command needs",
     "ask for the ACLs listed in docs/operations.md"),
]


def explain(what: str, exc: BaseException, errors: list[str], connection: Any, hint: str) -> str:
    """One line: what went wrong connecting `what` (consumer, producer, admin) and the fix."""
    security = connection.security
    address = connection.bootstrap
    facts = {
        "address": address,
        "host": address.split(",")[0].rsplit(":", 1)[0],
        "user": repr(security.username),
        "mechanism": security.mechanism,
        "prefix": connection.prefix,
    }
    said = "\n".join([*errors, f"{type(exc).__name__}: {exc}"])
    for pattern, meaning, fix in CAUSES:
        if re.search(pattern, said):
            return (f"cannot connect to Kafka at {address} as {security.protocol} ({what}): "
                    f"{meaning.format(**facts)}; {fix.format(**facts)}")
    refused = "refused" if re.search(r"Connection refused|ECONNREFUSED|Errno 111", said) else ""
    last = errors[-1] if errors else f"{type(exc).__name__}: {exc}"
    return (f"cannot reach the Kafka broker at {address} within 10 s ({what}: "
            f"{'connection refused' if refused else short(last)}); {hint}")


def short(text: str, limit: int = 200) -> str:
    """The text on one line, cut to `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
