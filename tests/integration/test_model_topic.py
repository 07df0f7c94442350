"""`detector serve --model-topic`: replicas that share no file system serve the bundle the
retrainer publishes on a compacted topic, the newest at start and each new one hot-swapped; a
corrupt or oversized bundle on the topic changes nothing served; a bundle larger than the topic
takes is refused whole with one line; `detector models rollback --model-topic` publishes the
bundle rolled back to, so the replicas switch back."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from kafka import KafkaConsumer

from detector.brokers.kafka_models import ModelTopicReader
from detector.brokers.model_topic import BundleTooLarge
from detector.lifecycle.store import ModelStore
from detector.stream.follower import ModelFollower
from detector.stream.reloader import load_model
from shared.kafka_client import Connection
from tests.helpers import REPO

RETRAINED = ("--simulate", "10000", "--epochs", "10", "--seed", "1")


def served(detector) -> str:
    """The model version /healthz names."""
    return detector.healthz()[1]["model"]


def version_of(bundle) -> str:
    return json.loads((bundle / "bundle.json").read_text())["version"]


def test_replicas_load_the_newest_bundle_and_swap_on_each_new_one(
    start_detector, serve_topics, serve_bundle, trained_bundle, model_topics
):
    retrained = trained_bundle(*RETRAINED)
    topic = model_topics.make()
    topics = serve_topics(partitions=2)  # one for each replica
    first = start_detector(topics, "--model-topic", topic)
    first.wait_ready()
    assert served(first) == version_of(serve_bundle)  # an empty topic: --model's bundle

    new = model_topics.publish(topic, retrained)
    first.wait_for(lambda: served(first) == new, "the published bundle served", 60)
    assert first.sample("detector_model_reloads_total", result="success") == 1

    model_topics.send_raw(topic, b"PK\x03\x04 not really a zip", version="corrupt")
    first.wait_for(lambda: first.sample("detector_model_reloads_total", result="error") == 1,
                   "the corrupt bundle rejected", 60)
    assert served(first) == new
    assert "rejected, keeping model" in first.log

    model_topics.publish(topic, retrained)  # the newest again, so a new replica starts on it
    second = start_detector(topics, "--model-topic", topic)
    second.wait_ready()
    assert served(second) == new
    assert second.sample("detector_model_reloads_total", result="success") == 0
    assert first.stop() == 0 and second.stop() == 0


def test_a_bundle_over_the_topics_max_message_bytes_is_refused_whole(serve_bundle,
                                                                     model_topics):
    topic = model_topics.make(max_message_bytes="2000")
    with pytest.raises(BundleTooLarge, match=r"max.message.bytes \(2000\)"):
        model_topics.publish(topic, serve_bundle)
    probe = KafkaConsumer(bootstrap_servers=model_topics.bootstrap)
    try:
        assert probe.end_offsets([tp := _tp(topic)])[tp] == 0  # nothing sent, nothing chunked
    finally:
        probe.close()


def test_an_oversized_record_on_the_topic_is_rejected_and_counted(serve_bundle, model_topics):
    topic = model_topics.make()
    model_topics.publish(topic, serve_bundle)
    results: list[str] = []
    reader = ModelTopicReader(Connection(model_topics.bootstrap), "", topic, "test-follower")
    current = load_model(serve_bundle)
    follower = ModelFollower(reader, topic, current, lambda r, m: results.append(m),
                             max_bytes=1000)
    try:
        object.__setattr__(follower, "version", "another")  # as if serving another model
        assert follower.catch_up() is None
    finally:
        follower.stop()
    assert len(results) == 1 and "over the 1000 a bundle may take" in results[0]


def test_serve_refuses_a_model_topic_that_is_not_compacted(serve_topics, serve_bundle,
                                                           model_topics, kafka_bootstrap):
    topic = model_topics.make(cleanup_policy="delete")
    result = subprocess.run(
        [sys.executable, "-m", "detector", "serve", "--model", str(serve_bundle),
         "--metrics-port", "0", *serve_topics().args(kafka_bootstrap), "--model-topic", topic],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(errors) == 1, result.stderr[-2000:]
    assert "cleanup.policy=delete" in errors[0] and "cleanup.policy=compact" in errors[0]


def _tp(topic: str):
    from kafka import TopicPartition

    return TopicPartition(topic, 0)


def test_a_rollback_is_published_so_replicas_following_the_topic_switch_back(
    start_detector, serve_topics, serve_bundle, trained_bundle, model_topics, tmp_path,
    kafka_bootstrap
):
    model = tmp_path / "model"
    shutil.copytree(serve_bundle, model)
    new = ModelStore(model).promote(trained_bundle(*RETRAINED), "test")
    topic = model_topics.make()
    model_topics.publish(topic, model)  # as the retrainer publishes a promotion
    replica = start_detector(serve_topics(), "--model-topic", topic)
    replica.wait_ready()
    assert served(replica) == new

    def rollback(*version: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "detector", "models", "rollback", str(model), *version,
             "--model-topic", topic, "--bootstrap", kafka_bootstrap],
            cwd=REPO, capture_output=True, text=True, timeout=120, check=False)

    missing = rollback("0123456789ab")
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "no model version '0123456789ab'" in missing.stderr
    assert end_offset(kafka_bootstrap, topic) == 1  # nothing published, nothing changed
    old = version_of(serve_bundle)
    result = rollback()
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"now serves {old}" in result.stdout and "published" in result.stdout
    replica.wait_for(lambda: served(replica) == old, "the rolled-back bundle served", 60)
    assert version_of(model) == old and end_offset(kafka_bootstrap, topic) == 2
    assert replica.stop() == 0


def end_offset(bootstrap: str, topic: str) -> int:
    """The model topic's end offset (how many bundles were published on it)."""
    probe = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        return probe.end_offsets([tp := _tp(topic)])[tp]
    finally:
        probe.close()
