"""The per-record rules of the careful decoding path, and the messages that name a failure (pure).

A device name is 1 to MAX_DEVICE_LENGTH characters, each a letter, a digit or one of
`_ . : @ / # + -`. Anything from a record that a message quotes is escaped and cut short.
"""

from __future__ import annotations

import json
import math
import re

from detector.printable import printable, text_of

MAX_DEVICE_LENGTH = 128
DEVICE_NAME = re.compile(rf"[\w.:@/#+-]{{1,{MAX_DEVICE_LENGTH}}}")


class Invalid(Exception):
    """One record's rejection: a reason from REASONS and a message for the dead letter."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def check_device(name: str) -> None:
    """Raise Invalid (`schema`) unless the device name follows the rule in the module docstring."""
    if not DEVICE_NAME.fullmatch(name):
        raise Invalid(
            "schema",
            f"'device' {shown(name)} must be 1 to {MAX_DEVICE_LENGTH} letters, digits or "
            "_ . : @ / # + - (no spaces or control characters)",
        )


def shown(text: object, limit: int = 40) -> str:
    """A name from a record, quoted, escaped (no control characters) and cut to `limit`."""
    text = text_of(text)
    return "'" + printable(text if len(text) <= limit else text[:limit] + "…") + "'"


def reparse(raw: bytes, error: Exception) -> object:
    """Parse what orjson refused with the standard library, which accepts NaN and Infinity.

    Returns the object only when it holds a non-finite number (so it is rejected as such);
    anything else is a `decode` error.
    """
    try:
        obj = json.loads(raw)
    except Exception:  # ValueError, UnicodeDecodeError, RecursionError, ...
        raise Invalid("decode", f"not valid UTF-8 JSON: {error}") from None
    if has_non_finite(obj):
        raise Invalid("non_finite", "the reading holds NaN or Infinity")
    raise Invalid("decode", f"not valid JSON: {error}")


def has_non_finite(obj: object, depth: int = 0) -> bool:
    """True when a parsed JSON value holds NaN or an infinity anywhere."""
    if type(obj) is float:
        return not math.isfinite(obj)
    if depth > 32:
        return False
    if type(obj) is list:
        return any(has_non_finite(v, depth + 1) for v in obj)
    if type(obj) is dict:
        return any(has_non_finite(v, depth + 1) for v in obj.values())
    return False


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
