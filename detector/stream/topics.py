"""Create the detector's topics when they are missing (an existing topic is left as it is)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from detector.errors import NotAllowed
from detector.stream.kafka import TopicAlreadyExistsError, TopicAuthorizationFailedError

log = logging.getLogger(__name__)


def ensure_topics(admin: Any, partitions: Mapping[str, int], replication: int = 1) -> list[str]:
    """Create each topic of `partitions` (name → partition count) that does not exist yet.

    Several replicas may start at once, so a topic another one created in between is fine.
    Returns the names this call created.
    """
    existing = set(admin.list_topics())
    missing = {name: count for name, count in partitions.items() if name not in existing}
    if not missing:
        return []
    request = {
        name: {"num_partitions": count, "replication_factor": replication}
        for name, count in missing.items()
    }
    result = admin.create_topics(request, raise_errors=False)
    created = []
    for topic in result.get("topics", []):
        name, code = topic.get("name"), topic.get("error_code", 0)
        if code == 0:
            created.append(name)
            log.info("created topic %s with %d partition(s)", name, missing[name])
        elif code == TopicAuthorizationFailedError.errno:
            raise NotAllowed(
                f"not allowed to use topic {name}: this Kafka user may neither see nor create "
                f"it; grant it WRITE on {name} (READ on the readings topic and the group), or "
                "create the topic first (docs/operations.md, ACLs)")
        elif code != TopicAlreadyExistsError.errno:
            message = topic.get("error_message") or f"error code {code}"
            raise RuntimeError(f"could not create topic {name}: {message}")
    if created:
        admin.wait_for_topics(created, timeout_ms=15_000)
    return created
