"""librdkafka's side of the connection settings and of the seam: the one mapping of the security
settings onto its configuration, and its errors as the seam's (the real broker:
the both_clients integration tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException

from detector.brokers.confluent import broker_error
from detector.brokers.confluent_sink import send_error
from detector.stream.ports import BrokerUnavailable, NotAuthorized, RebalanceInProgress
from shared.kafka_client import Connection
from shared.kafka_confluent import librdkafka_config
from shared.kafka_diagnosis import explain
from shared.kafka_settings import Secret, Security, check, from_properties, parse_properties


def pem(tmp_path: Path, name: str) -> str:
    """A file that exists (check() asks only that)."""
    path = tmp_path / name
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return str(path)


def test_plaintext_is_the_address_and_the_protocol_only():
    assert librdkafka_config("a:9092,b:9092", check(Security())) == {
        "bootstrap.servers": "a:9092,b:9092", "security.protocol": "plaintext"}


def test_scram_over_tls_with_a_private_ca(tmp_path):
    ca = pem(tmp_path, "ca.pem")
    s = check(Security(protocol="sasl_ssl", mechanism="scram-sha-512", username="detector",
                       password=Secret("pw"), cafile=ca))
    assert librdkafka_config("k:9093", s) == {
        "bootstrap.servers": "k:9093", "security.protocol": "sasl_ssl",
        "ssl.ca.location": ca, "ssl.endpoint.identification.algorithm": "https",
        "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "detector", "sasl.password": "pw"}


def test_mutual_tls_with_a_key_passphrase_and_no_hostname_check(tmp_path):
    cert, key = pem(tmp_path, "c.crt"), pem(tmp_path, "c.key")
    s = check(Security(protocol="SSL", certfile=cert, keyfile=key,
                       key_password=Secret("kp"), check_hostname=False))
    config = librdkafka_config("k:9097", s)
    assert config == {
        "bootstrap.servers": "k:9097", "security.protocol": "ssl",
        "ssl.ca.location": "probe",  # no --ssl-cafile: the system's CAs, as kafka-python's
        "ssl.certificate.location": cert, "ssl.key.location": key, "ssl.key.password": "kp",
        "ssl.endpoint.identification.algorithm": "none"}


def test_a_properties_file_reaches_librdkafka_through_the_same_settings(tmp_path):
    ca = pem(tmp_path, "ca.pem")
    props = parse_properties(
        "security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\n"
        f"ssl.truststore.location={ca}\nssl.truststore.type=PEM\n"
        'sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required '
        'username="u" password="p";\n')
    security, _, _ = from_properties(props, "p.properties")
    config = librdkafka_config("k:1", check(security))
    assert (config["sasl.mechanism"], config["sasl.username"], config["sasl.password"],
            config["ssl.ca.location"]) == ("PLAIN", "u", "p", ca)


@pytest.mark.parametrize(("code", "kind"), [
    (KafkaError.TOPIC_AUTHORIZATION_FAILED, NotAuthorized),
    (KafkaError.GROUP_AUTHORIZATION_FAILED, NotAuthorized),
    (KafkaError.REBALANCE_IN_PROGRESS, RebalanceInProgress),
    (KafkaError.ILLEGAL_GENERATION, RebalanceInProgress),
    (KafkaError._TRANSPORT, BrokerUnavailable),
    (KafkaError._TIMED_OUT, BrokerUnavailable),
])
def test_librdkafkas_errors_become_the_seams(code, kind):
    error = broker_error(KafkaException(KafkaError(code)))
    assert type(error) is kind
    assert KafkaError(code).name() in str(error)
    assert error.retriable is (kind is not NotAuthorized)


def test_a_refused_send_is_retried_unless_retrying_cannot_help():
    from_broker = send_error(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), at_once=False)
    assert from_broker.retriable  # the topic's max.message.bytes can be raised meanwhile
    assert not send_error(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), at_once=True).retriable
    assert not send_error(KafkaError(KafkaError.INVALID_RECORD), at_once=False).retriable
    assert send_error(KafkaError(KafkaError._MSG_TIMED_OUT), at_once=False).retriable
    denied = send_error(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED), at_once=False)
    assert isinstance(denied, NotAuthorized) and not denied.retriable


@pytest.mark.parametrize(("said", "meaning"), [
    ("_TRANSPORT: ssl://127.0.0.1:9096/bootstrap: SSL handshake failed: error:0A000086:SSL "
     "routines::certificate verify failed: broker certificate could not be verified, verify that "
     "ssl.ca.location is correctly configured", "not signed by a CA this client trusts"),
    ("_TRANSPORT: ssl://127.0.0.1:9097/bootstrap: Receive failed: error:0A000412:SSL routines::"
     "ssl/tls alert bad certificate: SSL alert number 42 (after 5ms in state APIVERSION_QUERY)",
     "does not accept this client's certificate"),
    ("_AUTHENTICATION: sasl_ssl://127.0.0.1:9096/bootstrap: SASL authentication error: "
     "Authentication failed during authentication due to invalid credentials with SASL "
     "mechanism SCRAM-SHA-256", "SASL login of user 'detector' (SCRAM-SHA-256)"),
])
def test_librdkafkas_connection_errors_get_the_same_one_line_diagnosis(said, meaning):
    connection = Connection("127.0.0.1:9096", check(Security(
        protocol="SASL_SSL", mechanism="SCRAM-SHA-256", username="detector",
        password=Secret("pw"))))
    line = explain("consumer", KafkaException(KafkaError(KafkaError._TRANSPORT)), [said],
                   connection, "hint", probe=lambda address: False)
    assert meaning in line and "\n" not in line
