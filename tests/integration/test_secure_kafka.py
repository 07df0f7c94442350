"""The commands on the local stack's secured Kafka (`deploy/local/stack up kafka --secure`): TLS +
SCRAM end to end, mutual TLS, misconfigurations ending in one line within 30 s, ACLs ending a
command with status 3, and no secret in any log, response or event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.helpers.broker import unique_name
from tests.helpers.processes import DetectorProcess, ServeTopics
from tests.helpers.secure import DESCRIBE, GROUP, READ, TOPIC, WRITE, SecureKafka, run_cli

pytestmark = pytest.mark.both_clients  # docs/testing.md: what runs on both clients

COUNT = 2000


def secure_topics(kafka: SecureKafka, partitions: int = 2) -> ServeTopics:
    """Fresh readings, anomalies and dead-letter topics (made as admin) and a group name."""
    return ServeTopics(kafka.topic("readings", partitions), kafka.topic("anomalies", partitions),
                       kafka.topic("dlq"), unique_name("detector"))


def allow_detector(kafka: SecureKafka, topics: ServeTopics, anomalies: tuple = (WRITE,),
                   readings: tuple = (READ,)) -> None:
    """The detector's grants: `readings` on the readings topic, READ on its group, WRITE on the
    dead letters and `anomalies` on the events topic."""
    kafka.grant("detector", *[(op, TOPIC, topics.readings) for op in readings],
                (READ, GROUP, topics.group), (WRITE, TOPIC, topics.dlq),
                *[(op, TOPIC, topics.anomalies) for op in anomalies])


def scram_env(kafka: SecureKafka, password: str | None = None) -> dict[str, str]:
    """`detector` settings from the environment only: SCRAM-SHA-256 over TLS as user detector."""
    return {"DETECTOR_SECURITY_PROTOCOL": "SASL_SSL", "DETECTOR_SASL_MECHANISM": "SCRAM-SHA-256",
            "DETECTOR_SASL_USERNAME": "detector",
            "DETECTOR_SASL_PASSWORD": password or kafka.password("detector"),
            "DETECTOR_SSL_CAFILE": str(kafka.file("ca.pem"))}


def produce(kafka: SecureKafka, topic: str, count: int, *options: str,
            anomaly_rate: float = 0.01) -> subprocess.CompletedProcess[str]:
    """`producer simulate` as user producer with its properties file (SCRAM-SHA-512)."""
    config = str(kafka.file("producer.properties"))
    return run_cli(["producer", "simulate", "--kafka-config", config,
                    "--topic", topic, "--count", str(count), "--rate", "0", "--seed", "3",
                    "--anomaly-rate", str(anomaly_rate), "--metrics-port", "0", *options],
                   timeout=120)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single `error: ...` line a failed command printed (no traceback, nothing else)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0 and len(lines) == 1, (result.returncode, result.stderr[-3000:])
    assert lines[0].startswith("error: "), lines
    return lines[0]


def other_ca(tmp: Path) -> dict[str, Path]:
    """A CA the broker does not know, and a client certificate (CN=producer) it signed."""
    files = {name: tmp / name for name in ("ca.pem", "ca.key", "client.crt", "client.key")}
    openssl = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
    subprocess.run([*openssl, "-keyout", files["ca.key"], "-out", files["ca.pem"], "-subj",
                    "/CN=another CA"], check=True, capture_output=True)
    subprocess.run([*openssl, "-CA", files["ca.pem"], "-CAkey", files["ca.key"], "-keyout",
                    files["client.key"], "-out", files["client.crt"], "-subj", "/CN=producer"],
                   check=True, capture_output=True)
    return files


def test_scram_over_tls_scores_every_reading_and_no_secret_shows(secure_kafka, serve_bundle):
    kafka = secure_kafka
    topics = secure_topics(kafka)
    allow_detector(kafka, topics)
    kafka.grant("producer", (WRITE, TOPIC, topics.readings))
    detector = DetectorProcess.serve(serve_bundle, topics, kafka.sasl, "--metrics-host",
                                     "127.0.0.1", "--log-level", "DEBUG", env=scram_env(kafka))
    with detector:
        detector.wait_ready()
        produced = produce(kafka, topics.readings, COUNT)
        assert produced.returncode == 0, produced.stderr[-3000:]
        detector.wait_records(COUNT)
        detector.wait_for(lambda: sum(kafka.committed(topics.group, topics.readings).values())
                          == COUNT, "every reading committed")
        events = kafka.records(topics.anomalies, min_records=1)
        responses = [detector.get(path)[1].decode() for path in ("/metrics", "/healthz")]
        scored = detector.sample("detector_records_total")
        assert detector.stop() == 0
    assert scored == COUNT
    assert events and all(json.loads(e.value)["event_id"].startswith(topics.readings + ":")
                          for e in events)
    watched = run_cli(["detector", "watch", "--kafka-config", str(kafka.file("admin.properties")),
                       "--topic", topics.anomalies, "--from-beginning", "--count", "1"])
    assert watched.returncode == 0 and watched.stdout.strip(), watched.stderr[-3000:]
    everything = "\n".join([detector.log, produced.stdout, produced.stderr, watched.stdout,
                            watched.stderr, *responses, *(e.value.decode() for e in events),
                            *(p.read_text(errors="replace") for p in serve_bundle.rglob("*.json")),
                            *(p.read_text(errors="replace")  # the broker's own logs too
                              for p in (kafka.secrets.parent / "logs").glob("*.log"))])
    for what, text in kafka.secret_texts().items():
        assert text not in everything, f"the {what} shows in a log, a response or an event"


def test_mutual_tls_takes_a_certificate_from_the_stacks_ca_and_refuses_another(secure_kafka,
                                                                               tmp_path):
    kafka = secure_kafka
    topic = kafka.topic("readings")
    kafka.grant("producer", (WRITE, TOPIC, topic))
    tls = ["--bootstrap", kafka.mtls, "--security-protocol", "SSL", "--ssl-cafile",
           str(kafka.file("ca.pem")), "--topic", topic, "--count", "200", "--rate", "0",
           "--metrics-port", "0"]
    ours = run_cli(["producer", "simulate", *tls, "--ssl-certfile", str(kafka.file("producer.crt")),
                    "--ssl-keyfile", str(kafka.file("producer.key"))], timeout=120)
    assert ours.returncode == 0, ours.stderr[-3000:]
    assert len(kafka.records(topic, min_records=200)) == 200
    stranger = other_ca(tmp_path)
    theirs = run_cli(["producer", "simulate", *tls, "--ssl-certfile", str(stranger["client.crt"]),
                      "--ssl-keyfile", str(stranger["client.key"])])
    assert "does not accept this client's certificate" in one_line_error(theirs)


def test_misconfigured_clients_stop_within_30_s_with_one_line_saying_what_to_fix(secure_kafka,
                                                                                 tmp_path):
    kafka = secure_kafka
    stranger = other_ca(tmp_path)
    cases = {  # name: (environment, what the line must say)
        "wrong password": (scram_env(kafka, password="not-the-password"),
                           "SASL login of user 'detector' (SCRAM-SHA-256); check the username "
                           "and password"),
        "plaintext client on the TLS listener": ({}, "answered in TLS, not plain Kafka"),
        "unknown CA": ({**scram_env(kafka), "DETECTOR_SSL_CAFILE": str(stranger["ca.pem"])},
                       "not signed by a CA this client trusts"),
    }
    commands = {
        "detector watch": lambda: ["detector", "watch", "--bootstrap", kafka.sasl, "--count", "1"],
        "producer simulate": lambda: ["producer", "simulate", "--bootstrap", kafka.sasl,
                                      "--count", "10", "--metrics-port", "0"],
    }
    running = {}
    for case, (env, _) in cases.items():
        for command, args in commands.items():
            env = {k.replace("DETECTOR_", "PRODUCER_") if command.startswith("producer") else k: v
                   for k, v in env.items()}
            running[case, command] = subprocess.Popen(
                [sys.executable, "-m", *args()], cwd=REPO, env={**os.environ, **env},
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for (case, command), process in running.items():
        try:
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise AssertionError(f"{command} with a {case} still runs after 30 s") from None
        line = one_line_error(subprocess.CompletedProcess(process.args, process.returncode,
                                                          out, err))
        assert cases[case][1] in line, (case, command, line)


def test_a_detector_not_allowed_to_publish_events_exits_3_having_committed_nothing(
        secure_kafka, serve_bundle):
    kafka = secure_kafka
    topics = secure_topics(kafka, partitions=1)
    allow_detector(kafka, topics, anomalies=(DESCRIBE,))  # sees the topic, may not write it
    kafka.grant("producer", (WRITE, TOPIC, topics.readings))
    assert produce(kafka, topics.readings, 300, anomaly_rate=0.05).returncode == 0
    with DetectorProcess.serve(serve_bundle, topics, kafka.sasl, env=scram_env(kafka)) as detector:
        assert detector.proc.wait(timeout=120) == 3, detector.log[-3000:]
    assert f"WRITE on {topics.anomalies}" in detector.log.splitlines()[-1], detector.log[-2000:]
    assert not any(kafka.committed(topics.group, topics.readings).values())


def test_missing_grants_end_the_commands_with_status_3_and_the_grant_to_ask_for(secure_kafka,
                                                                               serve_bundle):
    kafka = secure_kafka
    unseen, unread = secure_topics(kafka, 1), secure_topics(kafka, 1)
    allow_detector(kafka, unseen, anomalies=())  # may neither see nor create the events topic
    allow_detector(kafka, unread, readings=(DESCRIBE,))  # sees the readings, may not read them
    for topics, says in ((unseen, f"not allowed to use topic {unseen.anomalies}"),
                         (unread, "grant its Kafka user READ")):
        with DetectorProcess.serve(serve_bundle, topics, kafka.sasl,
                                   env=scram_env(kafka)) as detector:
            assert detector.proc.wait(timeout=120) == 3, detector.log[-3000:]
        assert says in detector.log.splitlines()[-1], detector.log[-2000:]
    refused = produce(kafka, unread.readings, 100)  # the producer has no grant on it
    assert refused.returncode == 3
    assert f"this user may not write {unread.readings}" in one_line_error(refused)
