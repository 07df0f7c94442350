"""`detector serve` start, stop and reload: clean restarts, bad configuration, hot reload."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys

import pytest
from kafka import KafkaAdminClient

from tests.integration.detector_process import REPO

SPIKE = {"device": "pump-9", "seq": 1, "ts": 1764301234.0, "values": [10, 1000, 10, 1000, 10]}


def scored_before_exit(log: str) -> int:
    """The readings a stopped detector says it scored."""
    match = re.search(r"stopped cleanly: (\d+) readings scored", log)
    assert match, log[-3000:]
    return int(match.group(1))


def test_sigterm_then_restart_reads_nothing_twice(
    start_detector, serve_topics, simulate, consume_all
):
    total = 12_000
    topics = serve_topics(partitions=2)
    first = start_detector(topics)
    first.wait_ready()
    producer = simulate(topics.readings, total, anomaly_rate=0.02, seed=9, rate=3000,
                        wait=False)
    first.wait_for(lambda: (first.sample("detector_records_total") or 0) > 0, "a first batch")
    assert first.stop() == 0  # mid-stream: the producer is still sending
    done_first = scored_before_exit(first.log)
    assert producer.wait(timeout=120) == 0

    second = start_detector(topics)
    second.wait_records(total - done_first)
    readings = consume_all(topics.readings, min_records=total)
    injected = {f"{r.topic}:{r.partition}:{r.offset}" for r in readings
                if dict(r.headers)["label"] in (b"spike", b"correlation_break")}
    ids = [json.loads(r.value)["event_id"]
           for r in consume_all(topics.anomalies, min_records=len(injected))]
    assert second.stop() == 0

    assert 0 < done_first < total
    assert done_first + scored_before_exit(second.log) == total
    assert len(ids) == len(set(ids)), "an event was published twice"
    assert injected <= set(ids)


def free_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_once(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    """Run `detector serve` to its exit (the guard timeout is generous, never asserted on)."""
    return subprocess.run([sys.executable, "-m", "detector", "serve", "--metrics-port", "0", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def broken_bundles(serve_bundle, tmp_path):
    """Bundles that must not start: missing, corrupt metadata, corrupt weights, other channels."""
    corrupt_meta = tmp_path / "corrupt-meta"
    shutil.copytree(serve_bundle, corrupt_meta)
    (corrupt_meta / "bundle.json").write_text('{"format": 1, "version": ')
    corrupt_weights = tmp_path / "corrupt-weights"
    shutil.copytree(serve_bundle, corrupt_weights)
    (corrupt_weights / "weights.npz").write_bytes(b"not an archive")
    no_threshold = tmp_path / "no-threshold"
    shutil.copytree(serve_bundle, no_threshold)
    meta = json.loads((no_threshold / "bundle.json").read_text())
    meta["calibration"]["threshold"] = -1
    (no_threshold / "bundle.json").write_text(json.dumps(meta))
    return {
        "missing": ([str(tmp_path / "nowhere")], "detector train"),
        "corrupt metadata": ([str(corrupt_meta)], "corrupt"),
        "corrupt weights": ([str(corrupt_weights)], "corrupt"),
        "negative threshold": ([str(no_threshold)], "threshold"),
        "other channels": ([str(serve_bundle), "--channels", "a,b,c,d,e"], "channels"),
    }


def test_a_bad_bundle_stops_serve_before_it_joins_the_group(
    broken_bundles, serve_topics, kafka_bootstrap
):
    topics = serve_topics()
    for name, (model_args, hint) in broken_bundles.items():
        result = serve_once("--model", *model_args, *topics.args(kafka_bootstrap))
        assert result.returncode == 2, name
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and hint in errors[0], (name, result.stderr)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        assert topics.group not in {g["group_id"] for g in admin.list_groups()}
    finally:
        admin.close()


def test_an_unreachable_broker_stops_serve_with_a_message(serve_bundle):
    address = f"127.0.0.1:{free_port()}"
    result = serve_once(env={"DETECTOR_MODEL": str(serve_bundle), "DETECTOR_BOOTSTRAP": address})
    assert result.returncode == 2
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert address in error and "--bootstrap" in error


def new_version(source, target, threshold_factor: float) -> str:
    """Copy a bundle under another version and threshold (a retrained model, as far as serve
    can tell); return the version."""
    staged = target.with_name(target.name + ".new")
    shutil.copytree(source, staged)
    meta = json.loads((staged / "bundle.json").read_text())
    meta["version"] = "feedbeef0001"
    meta["calibration"]["threshold"] *= threshold_factor
    (staged / "bundle.json").write_text(json.dumps(meta))
    shutil.rmtree(target)
    staged.rename(target)
    return meta["version"]


def test_hot_reload_keeps_the_old_model_on_a_bad_bundle_and_swaps_in_a_good_one(
    start_detector, serve_topics, serve_bundle, tmp_path, kafka_producer, consume_all
):
    model = tmp_path / "model"
    shutil.copytree(serve_bundle, model)
    old = json.loads((model / "bundle.json").read_text())
    topics = serve_topics()
    detector = start_detector(topics, "--reload-interval", "0.2", model=model)
    detector.wait_ready()

    (model / "bundle.json").write_text("{ this is not json")
    detector.wait_for(lambda: detector.sample("detector_model_reloads_total",
                                              result="error") == 1, "a failed reload")
    info = {dict(labels).get("version") for (name, labels) in detector.metrics()
            if name == "detector_model_info"}
    assert info == {old["version"]}

    version = new_version(serve_bundle, model, threshold_factor=2.0)
    detector.wait_for(lambda: detector.sample("detector_model_reloads_total",
                                              result="success") == 1, "a reload")
    kafka_producer.send(topics.readings, key=b"pump-9", value=json.dumps(SPIKE).encode())
    [event] = [json.loads(r.value) for r in consume_all(topics.anomalies, min_records=1)]

    assert event["model_version"] == version
    assert event["threshold"] == pytest.approx(old["calibration"]["threshold"] * 2)
    assert detector.sample("detector_threshold") == pytest.approx(event["threshold"])
    assert detector.sample("detector_model_reloads_total", result="error") == 1
    assert detector.stop() == 0
