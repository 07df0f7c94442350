"""`detector watch` on a topic nobody has created yet, against the real broker: it says who
creates the topic, and gives up after --wait instead of waiting silently for ever."""

import subprocess
import sys

from tests.helpers import REPO
from tests.helpers.broker import unique_name


def test_watch_names_detector_serve_and_gives_up_after_wait(kafka_bootstrap, kafka_admin):
    topic = unique_name("never-created")
    result = subprocess.run(
        [sys.executable, "-m", "detector", "watch", "--bootstrap", kafka_bootstrap,
         "--topic", topic, "--wait", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"topic {topic} does not exist yet: `detector serve` creates it")
    assert lines[-1] == (f"error: topic {topic} still does not exist after 2 s: start "
                         "`detector serve` (it creates the topic) or check --topic")
    assert result.stdout == ""
    assert topic not in kafka_admin.list_topics()  # watching never creates it
