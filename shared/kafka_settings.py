"""How to reach a secured Kafka: the client security settings, from options, the environment or a
Kafka client properties file, checked and turned into kafka-python's keyword arguments.

Pure logic: nothing here opens a connection. Secrets are held as `Secret`, whose text form is
`***`, so no message, log line or repr can show them by accident.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from shared.wire import InputError

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
LOGIN_MODULES = {"PlainLoginModule", "ScramLoginModule"}


class Secret(str):
    """A password or key passphrase: the value, but `***` wherever it is printed or formatted."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def reveal(self) -> str:
        """The secret itself, for the one place that needs it (the Kafka client)."""
        return str.__str__(self)


@dataclass(frozen=True)
class Security:
    """A Kafka client's security settings; None means "not given" (defaults apply)."""

    protocol: str | None = None
    mechanism: str | None = None
    username: str | None = None
    password: Secret | None = None
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    key_password: Secret | None = None
    check_hostname: bool | None = None

    def over(self, base: Security) -> Security:
        """These settings, with `base`'s wherever these say nothing."""
        given = {f.name: getattr(self, f.name) for f in fields(self)
                 if getattr(self, f.name) is not None}
        return replace(base, **given)

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def secrets(self) -> list[str]:
        """The secret values, revealed (for scrubbing them from log lines)."""
        return [s.reveal() for s in (self.password, self.key_password) if s]


def check(settings: Security) -> Security:
    """The settings with PLAINTEXT as default protocol, or an InputError saying what to fix."""
    s = replace(settings, protocol=(settings.protocol or "PLAINTEXT").upper(),
                mechanism=settings.mechanism.upper() if settings.mechanism else None)
    if s.protocol not in PROTOCOLS:
        raise InputError(f"security protocol {s.protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if s.uses_sasl:
        if s.mechanism not in MECHANISMS:
            raise InputError(f"{s.protocol} needs a SASL mechanism, one of "
                             f"{', '.join(MECHANISMS)} (--sasl-mechanism or sasl.mechanism), "
                             f"got {s.mechanism or 'none'}")
        if not s.username or not s.password:
            raise InputError(f"{s.protocol} needs a SASL username and password (--sasl-username,"
                             " and the password from the environment or --sasl-password-file)")
    elif s.mechanism or s.username or s.password:
        raise InputError(f"SASL settings are given but the security protocol is {s.protocol}: "
                         "use SASL_SSL (or SASL_PLAINTEXT), or drop them")
    if not s.uses_tls and (s.cafile or s.certfile or s.keyfile):
        raise InputError(f"TLS files are given but the security protocol is {s.protocol}: use SSL"
                         " or SASL_SSL, or drop them")
    if s.keyfile and not s.certfile:
        raise InputError("a client key needs its certificate: give --ssl-certfile too")
    for what, path in (("CA file", s.cafile), ("client certificate", s.certfile),
                       ("client key", s.keyfile)):
        if path and not Path(path).is_file():
            raise InputError(f"the {what} {path} does not exist or is not a file")
    return s


def ssl_context(s: Security) -> ssl.SSLContext:
    """The TLS context of `s` (verifying the broker; hostname checks unless turned off)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = s.check_hostname is not False
    try:
        if s.cafile:
            ctx.load_verify_locations(s.cafile)
        else:
            ctx.load_default_certs()
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise InputError(f"cannot read the CA file {s.cafile} as PEM certificates "
                         f"({reason(exc)})") from None
    if s.certfile:
        password = s.key_password.reveal() if s.key_password else None
        try:
            ctx.load_cert_chain(s.certfile, s.keyfile, password=password)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise InputError(f"cannot use the client certificate {s.certfile}"
                             f"{' with key ' + s.keyfile if s.keyfile else ''} ({reason(exc)}): "
                             "both must be PEM, the key matching the certificate (and its "
                             "passphrase right, if it has one)") from None
    return ctx


def reason(exc: BaseException) -> str:
    """An ssl/OS error's own short reason."""
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__


def client_kwargs(s: Security) -> dict[str, Any]:
    """kafka-python's keyword arguments for checked settings `s`."""
    kwargs: dict[str, Any] = {"security_protocol": s.protocol}
    if s.uses_tls:
        kwargs["ssl_context"] = ssl_context(s)
    if s.uses_sasl:
        kwargs.update(sasl_mechanism=s.mechanism, sasl_plain_username=s.username,
                      sasl_plain_password=s.password.reveal() if s.password else None)
    return kwargs


# --- Kafka client properties files ---------------------------------------------------------


def parse_properties(text: str) -> dict[str, str]:
    """A Java .properties text as a dict: `key=value`, `key: value` or `key value`, comments
    (# or !) and lines continued by a final backslash."""
    props: dict[str, str] = {}
    logical = ""
    for raw in text.splitlines():
        line = raw.strip() if not logical else raw.lstrip()
        if not logical and (not line or line[0] in "#!"):
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            logical += line[:-1]
            continue
        logical += line
        match = re.match(r"((?:[^\s=:\\]|\\.)+)\s*[=:\s]?\s*(.*)$", logical)
        if match:
            props[unescape(match[1])] = unescape(match[2])
        logical = ""
    return props


def unescape(text: str) -> str:
    """Undo .properties escapes (\\t, \\n, \\uXXXX, \\x for any other x)."""
    named = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)",
                  lambda m: chr(int(m[1][1:], 16)) if len(m[1]) == 5 else named.get(m[1], m[1]),
                  text)


def jaas_credentials(config: str) -> tuple[str | None, Secret | None]:
    """The username and password of a `sasl.jaas.config` for the PLAIN or SCRAM login module."""
    module = re.match(r"\s*[\w.]*?(\w+)\s+(required|requisite|sufficient|optional)\b", config)
    if not module or module[1] not in LOGIN_MODULES:
        raise InputError("sasl.jaas.config: only the PlainLoginModule and ScramLoginModule "
                         "(a username and password) are supported")
    pairs = dict(re.findall(r'(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"', config))
    password = pairs.get("password")
    return pairs.get("username"), Secret(password) if password is not None else None


LIBRDKAFKA_FILES = {"ssl.ca.location": "cafile", "ssl.certificate.location": "certfile",
                    "ssl.key.location": "keyfile"}  # librdkafka's names, as confluent-kafka's
TRUSTSTORE_HELP = ("export the CA certificate as PEM (keytool -exportcert -rfc -keystore FILE "
                   "-alias ALIAS > ca.pem) and point ssl.truststore.location at it with "
                   "ssl.truststore.type=PEM")


def from_properties(props: dict[str, str], name: str) -> tuple[Security, dict[str, str], list[str]]:
    """Security settings of a client properties file, its other client settings we use
    (`bootstrap.servers`), and the keys ignored. An InputError names a key we cannot honour."""
    found: dict[str, Any] = {}
    used = {}
    ignored = []
    for key, value in props.items():
        if key == "bootstrap.servers":
            used[key] = value
        elif key == "security.protocol":
            found["protocol"] = value.strip().upper()
        elif key == "sasl.mechanism":
            found["mechanism"] = value.strip().upper()
        elif key == "sasl.jaas.config":
            found["username"], found["password"] = jaas_credentials(value)
        elif key in ("sasl.username", "sasl.password"):
            found[key[5:]] = Secret(value) if key == "sasl.password" else value
        elif key in ("ssl.truststore.location", "ssl.keystore.location"):
            kind = key.split(".")[1]
            stated = props.get(f"ssl.{kind}.type", "").upper()
            if stated != "PEM" and not (stated == "" and value.endswith((".pem", ".crt"))):
                raise InputError(f"{name}: ssl.{kind}.type {stated or 'JKS (the default)'} cannot"
                                 f" be read here; " + (TRUSTSTORE_HELP if kind == "truststore" else
                                 "export the key and certificate as PEM and set "
                                 "ssl.keystore.type=PEM (or ssl.certificate.location and "
                                 "ssl.key.location)"))
            found["cafile" if kind == "truststore" else "certfile"] = value
        elif key in LIBRDKAFKA_FILES:
            found[LIBRDKAFKA_FILES[key]] = value
        elif key == "ssl.key.password":
            found["key_password"] = Secret(value)
        elif key == "ssl.endpoint.identification.algorithm":
            found["check_hostname"] = value.strip().lower() == "https"
        elif key in ("ssl.truststore.type", "ssl.keystore.type", "ssl.truststore.password",
                     "ssl.keystore.password", "ssl.enabled.protocols", "ssl.protocol"):
            continue  # read with the store's location, or meaningless for PEM files
        elif key.startswith(("ssl.", "sasl.", "security.", "enable.ssl.")):
            raise InputError(f"{name}: {key} is not supported here (the security settings read "
                             "are security.protocol, sasl.mechanism, sasl.jaas.config, "
                             "sasl.username/password, ssl.truststore/keystore.location of type "
                             "PEM, ssl.ca/certificate/key.location, ssl.key.password and "
                             "ssl.endpoint.identification.algorithm)")
        else:
            ignored.append(key)
    return Security(**found), used, ignored
