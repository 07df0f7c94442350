"""Services that share a built image have one builder: a tag built by several services is baked
several times in parallel (buildx fails with "already exists" on a clean cache), and a service
that names a local tag without building it must neither try to pull it nor start before it."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from tests.helpers.compose import compose_file

SERVICES: dict[str, Any] = compose_file()["services"]


def built_images() -> dict[str, list[str]]:
    """Each image some service builds: every service that runs it."""
    users: dict[str, list[str]] = defaultdict(list)
    for name, service in SERVICES.items():
        users[service["image"]].append(name)
    return {image: names for image, names in users.items()
            if any("build" in SERVICES[n] for n in names)}


def dependencies(name: str) -> set[str]:
    """Every service `name` depends on, directly or through others."""
    found: set[str] = set()
    todo = [name]
    while todo:
        for dep in SERVICES[todo.pop()].get("depends_on", {}):
            if dep not in found:
                found.add(dep)
                todo.append(dep)
    return found


IMAGES = built_images()


def test_the_app_image_is_shared_by_the_python_roles() -> None:
    assert sorted(IMAGES["anomaly-detector:0.1.0"]) == [
        "detector", "detector-secure", "producer", "producer-secure", "retrainer", "trainer",
        "webhook"]


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_one_builder_per_image_and_the_others_wait_for_it(image: str) -> None:
    builders = [n for n in IMAGES[image] if "build" in SERVICES[n]]
    assert len(builders) == 1, f"{image} is built by {builders}"
    builder = builders[0]
    assert SERVICES[builder]["pull_policy"] == "build", "a local tag is never pulled"
    for name in IMAGES[image]:
        if name != builder:
            assert SERVICES[name]["pull_policy"] == "never", f"{name} would try to pull {image}"
            assert builder in dependencies(name), f"`up {name}` alone would not build {image}"


def test_the_builder_builds_the_dockerfile_from_the_repository_root() -> None:
    (builder,) = [s for s in SERVICES.values() if "build" in s]
    assert builder["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}


def test_no_builder_waits_for_a_service_of_its_own_image() -> None:
    for names in IMAGES.values():
        (builder,) = [n for n in names if "build" in SERVICES[n]]
        assert not dependencies(builder) & set(names), f"{builder} waits for its own image"
