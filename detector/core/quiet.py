"""Import Keras (and TensorFlow) quietly: TensorFlow's own log lines only when asked for.

TensorFlow prints start-up lines from C++ (oneDNN, absl) that TF_CPP_MIN_LOG_LEVEL does not
silence, straight to the process's stderr. Unless `show_logs(True)` was called (`--log-level
debug`) or the root logger is at DEBUG (`serve --log-level DEBUG`), stderr's file descriptor
points at /dev/null while TensorFlow loads, and its Python loggers are set to errors only.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from typing import Any

_show = False


def show_logs(show: bool) -> None:
    """Whether TensorFlow's log lines are shown (call before Keras is imported)."""
    global _show
    _show = show
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if show else "3"


def verbose() -> bool:
    """True when TensorFlow's log lines are wanted."""
    return _show or logging.getLogger().getEffectiveLevel() <= logging.DEBUG


def import_keras() -> Any:
    """The keras module (untyped), TensorFlow loaded with its chatter hidden unless verbose()."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "keras" in sys.modules or verbose():
        import keras

        return keras
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        import keras
        import tensorflow as tf
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="keras")
    warnings.filterwarnings("ignore", module="tensorflow")
    return keras
