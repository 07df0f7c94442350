"""Real Prometheus and Alertmanager for the e2e tests, with a webhook receiver run by the test.

The local stack's Prometheus and Alertmanager (Debian's packages, the project's rule and config
files) run for the session in a state folder and on ports of their own, so that neither a running
`make up` nor what an earlier run left in Alertmanager's notification log can change the outcome.
Alertmanager posts to the test's receiver; the test's processes are added as file_sd targets,
which Prometheus reads within seconds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.broker import run_stack, unavailable
from tests.helpers.observability import Observability, start_webhook
from tests.helpers.processes import free_port


@pytest.fixture(scope="session")
def observability(tmp_path_factory) -> Iterator[Observability]:
    """Prometheus and Alertmanager of the session's own, Alertmanager posting to our receiver."""
    server, webhook = start_webhook()
    state = tmp_path_factory.mktemp("stack")
    ports = {"prometheus": free_port(), "alertmanager": free_port()}
    env = {
        "STACK_STATE_DIR": str(state),
        "PROMETHEUS_PORT": str(ports["prometheus"]),
        "ALERTMANAGER_PORT": str(ports["alertmanager"]),
        "ALERTMANAGER_WEBHOOK_URL": webhook.url,
        "PROMETHEUS_DETECTOR_TARGETS": "",
        "PROMETHEUS_PRODUCER_TARGETS": "",
    }
    result = run_stack("up", "prometheus", "alertmanager", env=env)
    if result.returncode != 0:
        server.shutdown()
        unavailable(f"cannot start Prometheus and Alertmanager:\n{result.stdout}{result.stderr}")
    try:
        yield Observability(
            prometheus=f"http://127.0.0.1:{ports['prometheus']}",
            alertmanager=f"http://127.0.0.1:{ports['alertmanager']}",
            webhook=webhook,
            targets=state / "prometheus" / "targets",
        )
    finally:
        run_stack("down", "alertmanager", "prometheus", env=env)
        server.shutdown()
