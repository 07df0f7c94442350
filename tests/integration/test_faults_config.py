"""Fault suite: bad configuration stops `detector serve` at once, before it joins the group.

Each case must end with exit status 2 and one `error:` line saying what to fix, within 30 s (the
bound the issue sets; a timeout here means the daemon hung instead of stopping). A bad bundle is
found before the broker is touched: no topic is created and the group never appears; a good start
on the same group afterwards reads the whole stream.

These run on kafka-python alone (docs/testing.md): every check here comes before the Kafka client
library is chosen; the first contact with the broker, the topic check, uses kafka-python with
either client.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO
from tests.helpers.broker import unique_name
from tests.helpers.faults import assert_complete, settle
from tests.helpers.processes import ServeTopics, free_port

STOPS_WITHIN = 30  # seconds


def serve(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    """`detector serve` to its exit; TimeoutExpired if it runs past STOPS_WITHIN."""
    return subprocess.run([sys.executable, "-m", "detector", "serve", "--metrics-port", "0", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=STOPS_WITHIN,
                          check=False, env={**os.environ, **(env or {})})


def edited(bundle: Path, target: Path, edit) -> Path:
    """A copy of bundle with edit(meta) applied to its bundle.json."""
    shutil.copytree(bundle, target)
    meta = json.loads((target / "bundle.json").read_text())
    edit(meta)
    (target / "bundle.json").write_text(json.dumps(meta))  # NaN is written as NaN, as Python does
    return target


def broken(case: str, bundle: Path, tmp: Path) -> tuple[list[str], str]:
    """The `serve` model options of one broken case and the word its message must hold."""
    tmp.mkdir(parents=True)
    calibration = lambda f: lambda meta: f(meta["calibration"])  # noqa: E731
    if case == "bundle missing":
        return ["--model", str(tmp / "nowhere")], "detector train"
    if case == "bundle.json corrupt":
        target = tmp / "corrupt-meta"
        shutil.copytree(bundle, target)
        (target / "bundle.json").write_text('{"format": 1, "version": ')
        return ["--model", str(target)], "corrupt"
    if case == "weights corrupt":
        target = tmp / "corrupt-weights"
        shutil.copytree(bundle, target)
        (target / "weights.npz").write_bytes(b"not an archive")
        return ["--model", str(target)], "corrupt"
    if case == "other channels":
        return ["--model", str(bundle), "--channels", "a,b,c,d,e"], "channels"
    edits = {"threshold missing": calibration(lambda c: c.pop("threshold")),
             "threshold NaN": calibration(lambda c: c.update(threshold=float("nan"))),
             "threshold negative": calibration(lambda c: c.update(threshold=-0.5))}
    return ["--model", str(edited(bundle, tmp / "edited", edits[case]))], "threshold"


CASES = ("bundle missing", "bundle.json corrupt", "weights corrupt", "other channels",
         "threshold missing", "threshold NaN", "threshold negative")


def test_bad_bundles_stop_serve_before_it_touches_the_broker_and_a_good_start_loses_nothing(
    serve_bundle, tmp_path, kafka_bootstrap, kafka_admin, serve_topics, simulate, start_detector
):
    total = 3000
    topics = serve_topics(partitions=2)
    simulate(topics.readings, total, anomaly_rate=0.02, seed=17)
    for case in CASES:
        fresh = [unique_name(f"{name}-unused") for name in ("readings", "anomalies", "dlq")]
        model_args, hint = broken(case, serve_bundle, tmp_path / case.replace(" ", "-"))
        result = serve(*model_args, *ServeTopics(*fresh, topics.group).args(kafka_bootstrap))
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        print(f"{case}: exit {result.returncode}; {errors}")
        assert result.returncode == 2, (case, result.stderr[-3000:])
        assert len(errors) == 1 and hint in errors[0], (case, result.stderr[-3000:])
        assert not set(fresh) & set(kafka_admin.list_topics()), f"{case}: a topic was created"
        assert topics.group not in {g["group_id"] for g in kafka_admin.list_groups()}, case

    detector = start_detector(topics)  # the same group and stream, a good bundle
    outcome = settle(kafka_admin, kafka_bootstrap, topics, total)
    assert_complete(outcome, total)
    assert detector.sample("detector_records_total") == total
    assert detector.stop() == 0


def test_an_unreachable_broker_stops_serve_with_a_message(serve_bundle):
    address = f"127.0.0.1:{free_port()}"
    result = serve(env={"DETECTOR_MODEL": str(serve_bundle), "DETECTOR_BOOTSTRAP": address})
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    print(f"unreachable broker: exit {result.returncode}; {errors}")
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(errors) == 1 and address in errors[0] and "--bootstrap" in errors[0]


def test_fewer_remembered_devices_than_a_batch_stops_serve_with_a_message(serve_bundle):
    result = serve("--model", str(serve_bundle), "--batch-size", "100", "--max-devices", "10")
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(errors) == 1 and "--max-devices" in errors[0] and "--batch-size" in errors[0]
