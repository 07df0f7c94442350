"""The Docker deployment as its tools read it, with no Docker engine: docker-compose.yml with
Compose's variable interpolation, and the environment deploy/Dockerfile gives its containers."""

from __future__ import annotations

import re
import shlex
from typing import Any

import yaml

from tests.helpers import REPO

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolated(text: str) -> str:
    """The Compose file as Compose reads it with no variable set: defaults in, `$$` to `$`."""
    return VARIABLE.sub(lambda m: m.group(2) or "", text).replace("$$", "$")


def compose_file() -> dict[str, Any]:
    """docker-compose.yml, interpolated and parsed."""
    return yaml.safe_load(interpolated(COMPOSE.read_text()))


def dockerfile_env() -> dict[str, str]:
    """The ENV of deploy/Dockerfile's final stage (continuation lines joined)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    final = text.rsplit("\nFROM ", 1)[-1]
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV (.+)$", final, re.M):
        env.update(word.split("=", 1) for word in shlex.split(line))
    return env
