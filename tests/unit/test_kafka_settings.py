"""Kafka security settings: properties files, the checks, secrets that never print, and the
one-line diagnosis of what the client logged (the real broker: test_secure_kafka.py)."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.kafka_client import Connection, Scrubber, connection_from
from shared.kafka_diagnosis import explain
from shared.kafka_settings import Secret, Security, check, from_properties, parse_properties
from shared.wire import InputError

CONFLUENT_CLOUD = """\
# Required connection configs for Kafka producer, consumer, and admin
bootstrap.servers=pkc-xxxx.eu-west-1.aws.confluent.cloud:9092
security.protocol=SASL_SSL
sasl.mechanisms=PLAIN
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\
    username='KEY' password='SECRET';
client.dns.lookup=use_all_dns_ips
session.timeout.ms=45000
acks=all
"""


def test_a_managed_kafka_properties_file_maps_to_the_client_settings():
    props = parse_properties(CONFLUENT_CLOUD.replace("sasl.mechanisms=PLAIN\n", "").replace(
        "'KEY'", '"KEY"').replace("'SECRET'", '"SECRET"'))
    settings, used, ignored = from_properties(props, "cc.properties")
    s = check(settings)
    assert (s.protocol, s.mechanism, s.username, s.password.reveal()) == (
        "SASL_SSL", "PLAIN", "KEY", "SECRET")
    assert used == {"bootstrap.servers": "pkc-xxxx.eu-west-1.aws.confluent.cloud:9092"}
    assert sorted(ignored) == ["acks", "client.dns.lookup", "session.timeout.ms"]


@pytest.mark.parametrize(("line", "says"), [
    ("ssl.truststore.location=/x/truststore.jks", "keytool -exportcert"),
    ("ssl.keystore.location=/x/k.p12\nssl.keystore.type=PKCS12", "ssl.keystore.type=PEM"),
    ("sasl.mechanisms=PLAIN", "sasl.mechanisms is not supported"),
    ("enable.ssl.certificate.verification=false", "is not supported"),
    ("sasl.jaas.config=com.sun.security.auth.module.Krb5LoginModule required;", "ScramLoginModule"),
])
def test_security_keys_it_cannot_honour_stop_with_the_key_named(line, says):
    with pytest.raises(InputError, match=says):
        from_properties(parse_properties(line), "f.properties")


@pytest.mark.parametrize(("settings", "says"), [
    (Security(protocol="TLS"), "not one of PLAINTEXT"),
    (Security(protocol="SASL_SSL", username="u", password=Secret("p")), "needs a SASL mechanism"),
    (Security(protocol="SASL_SSL", mechanism="PLAIN", username="u"), "username and password"),
    (Security(mechanism="PLAIN", username="u", password=Secret("p")), "use SASL_SSL"),
    (Security(protocol="SASL_PLAINTEXT", mechanism="PLAIN", username="u", password=Secret("p"),
              cafile="ca.pem"), "TLS files are given"),
    (Security(protocol="SSL", keyfile="k.pem"), "needs its certificate"),
    (Security(protocol="SSL", cafile="/nonexistent/ca.pem"), "does not exist"),
])
def test_inconsistent_settings_stop_with_what_to_fix(settings, says):
    with pytest.raises(InputError, match=says):
        check(settings)


def test_a_ca_file_that_is_not_pem_stops_start_up(tmp_path, monkeypatch):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(InputError, match="cannot read the CA file"):
        connection_from({"security_protocol": "SSL", "ssl_cafile": str(bad)}, "X", "h:1")


def test_options_win_over_the_file_and_the_password_comes_from_the_environment(tmp_path,
                                                                               monkeypatch):
    config = tmp_path / "c.properties"
    config.write_text("bootstrap.servers=b:9093\nsecurity.protocol=SASL_PLAINTEXT\n"
                      "sasl.mechanism=SCRAM-SHA-512\nsasl.username=file-user\n")
    monkeypatch.setenv("X_SASL_PASSWORD", "from-env")
    c = connection_from({"kafka_config": str(config), "sasl_username": "cli-user"}, "X", None)
    assert (c.bootstrap, c.security.username, c.security.password.reveal()) == (
        "b:9093", "cli-user", "from-env")


@given(st.text(max_size=40).map(lambda t: "§" + t))
def test_a_secret_never_prints(value):
    secret = Secret(value)
    shown = [str(secret), repr(secret), f"{secret}", f"{secret!r}", "%s" % secret,  # noqa: UP031
             repr(Security(password=secret)), str(Security(key_password=secret))]
    assert not [text for text in shown if value in text]
    assert secret.reveal() == value


def test_log_lines_carrying_a_secret_show_stars(caplog):
    record = logging.LogRecord("kafka", logging.ERROR, "f", 1, "login %s failed for %s",
                               ("hunter2-pass", "bob"), None)
    Scrubber(["hunter2-pass"]).filter(record)
    assert record.getMessage() == "login *** failed for bob"


@given(st.dictionaries(st.from_regex(r"[a-z][a-z.]{0,15}", fullmatch=True),
                       st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
                       .map(str.strip), max_size=8))
def test_properties_written_by_java_rules_read_back(props):
    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("=", "\\=").replace(":", "\\:")

    text = "\n".join(f"{escape(k)}={v.replace(chr(92), chr(92) * 2)}" for k, v in props.items())
    assert parse_properties("# comment\n! comment\n" + text) == props


SASL = check(Security(protocol="SASL_SSL", mechanism="SCRAM-SHA-256", username="det",
                      password=Secret("pw")))


@pytest.mark.parametrize(("logged", "says"), [
    (["<T>: Abort ([Error 58] SaslAuthenticationFailedError: invalid credentials)"],
     "refused the SASL login of user 'det'"),
    (["<T [h:1]>: socket disconnected",
      "<KafkaConnection node_id=bootstrap-0 broker_version=(4, 1) (disconnected)>: Connection "
      "lost: KafkaConnectionError: socket disconnected"],
     "closed the connection during the SASL login of user 'det'"),
    (["Handshake failed: [SSL: CERTIFICATE_VERIFY_FAILED] unable to get local issuer"],
     "--ssl-cafile"),
    (["Abort (KafkaConnectionError: [SSL: SSLV3_ALERT_BAD_CERTIFICATE] bad certificate)"],
     "--ssl-certfile and --ssl-keyfile"),
    ([], "cannot reach the Kafka broker at h:1 within 10 s"),
])
def test_what_the_client_logged_becomes_one_line_saying_what_to_fix(logged, says):
    line = explain("consumer", TimeoutError("Unable to bootstrap"), logged,
                   Connection("h:1", SASL, "DETECTOR"), "start it", probe=lambda address: True)
    assert says in line and "\n" not in line and "pw" not in line


@pytest.mark.parametrize("tls", [True, False])
def test_a_plaintext_client_told_nothing_asks_whether_the_port_speaks_tls(tls):
    line = explain("producer", TimeoutError("Unable to bootstrap"), ["socket disconnected"],
                   Connection("h:1"), "start it", probe=lambda address: tls)
    assert ("answered in TLS" in line) == tls and ("cannot reach" in line) != tls
