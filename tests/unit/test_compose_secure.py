"""The Compose profile `secure`, checked without a container engine: its certificate script run
for real (keytool, as in the apache/kafka image), and what it writes read by the clients."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from shared.kafka_client import connection_from
from tests.helpers import REPO
from tests.helpers.compose import compose_file

SERVICES = compose_file()["services"]
SECURE = REPO / "deploy" / "kafka" / "secure"


@pytest.fixture(scope="module")
def secrets(tmp_path_factory):
    """What the kafka-secure-certs service writes, made by its own script with its environment."""
    if not shutil.which("keytool"):
        pytest.fail("keytool (from Java) is needed: make system-deps installs it")
    folder = tmp_path_factory.mktemp("secrets")
    env = {**SERVICES["kafka-secure-certs"]["environment"], "SECRETS": str(folder),
           "KAFKA_UID": str(os.getuid()), "APP_UID": str(os.getuid()), "PATH": os.environ["PATH"]}
    subprocess.run(["sh", str(SECURE / "certs.sh")], env=env, check=True, capture_output=True)
    return folder


def test_the_broker_listens_where_the_clients_are_told_and_with_the_keystore_made(secrets):
    broker = SERVICES["kafka-secure"]["environment"]
    # The script writes paths under SECRETS: in Compose /secrets, where the apps mount the volume.
    assert SERVICES["kafka-secure-certs"]["environment"]["SECRETS"] == "/secrets"
    for user in ("detector", "producer"):
        connection = connection_from({"kafka_config": str(secrets / f"{user}.properties")}, "X",
                                     None)
        assert f"SASL_SSL://{connection.bootstrap}" in broker["KAFKA_ADVERTISED_LISTENERS"]
        assert (connection.security.protocol, connection.security.username) == ("SASL_SSL", user)
    for name in ("KAFKA_SSL_KEYSTORE_FILENAME", "KAFKA_SSL_KEYSTORE_CREDENTIALS",
                 "KAFKA_SSL_KEY_CREDENTIALS"):
        assert (secrets / broker[name]).is_file(), name
    assert (secrets / "jaas.conf").is_file()


def test_the_ca_the_clients_trust_signed_the_broker_certificate_for_its_compose_name(secrets):
    names = subprocess.run(["openssl", "x509", "-in", str(secrets / "broker.pem"), "-noout",
                            "-ext", "subjectAltName"], capture_output=True, text=True, check=True)
    assert "DNS:kafka-secure" in names.stdout
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(secrets / "ca.pem"),
                             str(secrets / "broker.pem")], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr


def test_no_secret_is_readable_by_other_users(secrets):
    readable = sorted(p.name for p in secrets.iterdir() if p.stat().st_mode & 0o044)
    assert readable == ["broker.pem", "ca.pem"]  # the certificates: public
