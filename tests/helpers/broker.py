"""A real Kafka broker for the tests (and the benchmarks), and what they do with it.

The broker comes, in this order, from: the address in KAFKA_BOOTSTRAP; a Docker engine through
testcontainers (image apache/kafka:4.1.1); the local stack (`deploy/local/stack up kafka`).
When none works, the tests fail under CI=true and are skipped otherwise (`unavailable`).
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.protocol.admin.client_quotas import AlterClientQuotasRequest as Quota

from tests.helpers import REPO, unavailable

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

STACK = REPO / "deploy" / "local" / "stack"
KAFKA_IMAGE = "apache/kafka:4.1.1"


# --- where the broker comes from -------------------------------------------------------------


def broker_answers(address: str, timeout: float = 10.0) -> str | None:
    """None when the broker at address answers a metadata request, else the error text."""
    try:
        admin = KafkaAdminClient(bootstrap_servers=address, request_timeout_ms=int(timeout * 1000))
        try:
            admin.describe_cluster()
        finally:
            admin.close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def docker_answers() -> bool:
    """True when a Docker engine answers a ping."""
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception:
        return False
    return True


# The apache/kafka image's settings for a one-node KRaft broker; the advertised address is only
# known once the container runs, so the container waits for a start script that sets it.
CONTAINER_ENV = {
    "CLUSTER_ID": "bG9jYWwtdGVzdC1jbHVzdA",
    "KAFKA_NODE_ID": "1",
    "KAFKA_PROCESS_ROLES": "broker,controller",
    "KAFKA_LISTENERS": "PLAINTEXT://:9092,BROKER://:9093,CONTROLLER://:9094",
    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": (
        "BROKER:PLAINTEXT,PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    ),
    "KAFKA_INTER_BROKER_LISTENER_NAME": "BROKER",
    "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
    "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9094",
    "KAFKA_NUM_PARTITIONS": "1",
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
    "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS": "10",
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
    "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
    "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
    "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
}
START_SCRIPT = "/tmp/tc-start.sh"
START_READY = "/tmp/tc-start.ready"


def put_files(container: DockerContainer, files: dict[str, str]) -> None:
    """Copy text files into a running container, in order, in one tar archive."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), 0o755, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    container.get_wrapped_container().put_archive("/", archive.getvalue())


def kafka_from_docker() -> Iterator[str]:
    """Run apache/kafka in a container for the session; yield its address."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    container = DockerContainer(KAFKA_IMAGE).with_exposed_ports(9092)
    for key, value in CONTAINER_ENV.items():
        container.with_env(key, value)
    container.with_command(
        ["sh", "-c", f"while [ ! -f {START_READY} ]; do sleep 0.1; done; exec sh {START_SCRIPT}"]
    )
    try:
        container.start()
    except Exception as exc:
        unavailable(f"a Docker engine answers but the {KAFKA_IMAGE} container did not start: {exc}")
    try:
        address = f"{container.get_container_host_ip()}:{container.get_exposed_port(9092)}"
        script = (
            f"export KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://{address},BROKER://$(hostname):9093\n"
            "exec /etc/kafka/docker/run\n"
        )
        # The marker comes after the script in the archive, so the script is complete when seen.
        put_files(container, {START_SCRIPT: script, START_READY: ""})
        wait_for_logs(container, "Kafka Server started", timeout=180, raise_on_exit=True)
        yield address
    finally:
        container.stop()


def run_stack(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run deploy/local/stack with args (and extra environment); capture its output."""
    return subprocess.run(
        [str(STACK), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **(env or {})},
    )


def lease_dir(kind: str = "kafka") -> Path:
    """Where test sessions that use the local stack's Kafka (or kafka-secure) note their pid."""
    state = Path(os.environ.get("STACK_STATE_DIR", REPO / ".stack"))
    return state / kind / "test-sessions"


def other_sessions(kind: str = "kafka") -> list[int]:
    """Pids of other live test sessions that use the local stack's Kafka (or kafka-secure)."""
    pids = []
    for entry in lease_dir(kind).glob("*"):
        pid = int(entry.name) if entry.name.isdigit() else -1
        if pid != os.getpid() and Path(f"/proc/{pid}").exists():
            pids.append(pid)
    return pids


def kafka_from_local_stack(*flags: str) -> Iterator[str]:
    """Start the local stack's Kafka (`--secure`: the secured one) unless it runs; stop it at
    the end if we started it and no other test session uses it."""
    kind = "kafka-secure" if "--secure" in flags else "kafka"
    port = os.environ.get("KAFKA_SECURE_PORT", "9096") if flags else os.environ.get(
        "KAFKA_PORT", "9092")
    address = f"{os.environ.get('KAFKA_HOST', '127.0.0.1')}:{port}"
    started = run_stack("status", "kafka", *flags).returncode != 0
    if started:
        result = run_stack("up", "kafka", *flags)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()[-3000:]
            unavailable(f"`deploy/local/stack up kafka {' '.join(flags)}` failed:\n{output}")
    lease = lease_dir(kind) / str(os.getpid())
    lease.parent.mkdir(parents=True, exist_ok=True)
    lease.touch()
    try:
        yield address
    finally:
        lease.unlink(missing_ok=True)
        if started and not other_sessions(kind):
            run_stack("down", "kafka", *flags)



# --- names, topics and offsets -------------------------------------------------------------


def unique_name(prefix: str) -> str:
    """prefix plus a random suffix, safe as a topic or group name."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def consume_records(
    bootstrap: str,
    topic: str,
    *,
    min_records: int = 0,
    idle: float = 1.0,
    timeout: float = 60.0,
) -> list[ConsumerRecord]:
    """All records of topic from the beginning, once caught up and idle for `idle` seconds.

    Waits for at least min_records (e.g. events a daemon is still writing) until `timeout`,
    then returns what it has; the caller asserts on it. Commits nothing (no consumer group).
    """
    deadline = time.monotonic() + timeout
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        partitions = consumer.partitions_for_topic(topic)
        while not partitions and time.monotonic() < deadline:
            time.sleep(0.2)
            partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return []
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        return drain(consumer, assigned, min_records, idle, deadline)
    finally:
        consumer.close()


def drain(
    consumer: KafkaConsumer,
    assigned: list[TopicPartition],
    min_records: int,
    idle: float,
    deadline: float,
) -> list[ConsumerRecord]:
    """Poll until caught up, idle and holding min_records, or until the deadline."""
    records: list[ConsumerRecord] = []
    last_new = time.monotonic()
    while True:
        batch = consumer.poll(timeout_ms=200)
        fresh = [record for part in batch.values() for record in part]
        now = time.monotonic()
        if fresh:
            records.extend(fresh)
            last_new = now
        elif now >= deadline:
            break
        elif len(records) >= min_records and now - last_new >= idle:
            ends = consumer.end_offsets(assigned)
            if all(consumer.position(tp) >= end for tp, end in ends.items()):
                break
    return sorted(records, key=lambda r: (r.partition, r.offset))


def committed(admin: KafkaAdminClient, group: str, topic: str) -> dict[int, int]:
    """The group's committed offset of each partition of topic (partitions never committed: 0)."""
    offsets = admin.list_group_offsets(group).get(group, {})
    return {tp.partition: max(o.offset, 0) for tp, o in offsets.items() if tp.topic == topic}


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """The end offset (next offset to be written) of each partition of topic."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        return {tp.partition: end for tp, end in consumer.end_offsets(parts).items()}
    finally:
        consumer.close()


def produce_quota(admin, client_id: str, bytes_per_second: float | None) -> None:
    """Set (or with None remove) the broker's producer_byte_rate quota of a client id.

    kafka-python's admin client has no call for it: the request goes through its manager."""
    op = Quota.EntryData.OpData(key="producer_byte_rate", value=float(bytes_per_second or 0),
                                remove=bytes_per_second is None)
    entity = Quota.EntryData.EntityData(entity_type="client-id", entity_name=client_id)
    request = Quota(entries=[Quota.EntryData(entity=[entity], ops=[op])], validate_only=False)
    [entry] = admin._manager.run(admin._manager.send, request).entries
    assert entry.error_code == 0, entry
