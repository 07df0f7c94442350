"""The retrain cycle's child process ends with the retrainer, however the retrainer ends: one
killed with SIGKILL (or by the OOM killer) leaves no worker holding its memory behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import REPO

# A retrainer's worker pool as the retrainer makes it, two jobs run in it (an idle worker that has
# run one only sees its queue close); it prints the worker's pid, then waits.
RETRAINER = ("import os, time\n"
             "from detector.retrain.challenger import pool\n"
             "workers = pool()\n"
             "print([workers.submit(os.getpid).result() for _ in range(2)][-1], flush=True)\n"
             "time.sleep(300)\n")


def running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_the_worker_ends_when_the_retrainer_is_killed():
    retrainer = subprocess.Popen([sys.executable, "-c", RETRAINER], cwd=REPO, text=True,
                                 stdout=subprocess.PIPE,
                                 env={**os.environ, "PYTHONPATH": str(REPO)})
    worker = 0
    try:
        worker = int(retrainer.stdout.readline())  # type: ignore[union-attr]
        assert running(worker)
        retrainer.send_signal(signal.SIGKILL)
        retrainer.wait(timeout=30)
        deadline = time.monotonic() + 30
        while running(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not running(worker), f"worker {worker} outlived the killed retrainer"
    finally:
        retrainer.kill()
        retrainer.wait(timeout=30)
        if worker and running(worker):  # a failed run leaves nothing behind either
            os.kill(worker, signal.SIGKILL)
