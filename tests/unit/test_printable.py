"""Nothing from an event reaches the terminal unescaped (`detector watch` prints describe)."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from detector.cli.watch import describe
from detector.printable import printable

FIELDS = ["ts", "device", "score", "top_channel", "seq", "model_version", "event_id"]
# Text rich in what a hostile producer would use: controls, escapes, bidi overrides, separators.
NASTY = st.lists(st.one_of(
    st.characters(exclude_categories=[]),  # surrogates too
    st.sampled_from("\x1b\r\n\x07\x00\x08\x7f\x85\x9b\u200b\u200e\u202e\u2066\u2028\u2029\ufeff"),
    st.sampled_from(["\x1b]0;pwned\x07", "\x1b[2J", "\r\nforged line"]),
)).map("".join)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | NASTY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NASTY, inner, max_size=3),
    max_leaves=10,
)


def is_clean(line: str) -> bool:
    """One line, and no character of a control, format, surrogate or unassigned category."""
    return (len(line.splitlines()) <= 1
            and not any(unicodedata.category(ch).startswith("C") for ch in line))


def test_escapes_what_could_drive_a_terminal() -> None:
    assert printable("pump-1") == "pump-1"
    assert printable("\x1b]0;pwned\x07") == "\\x1b]0;pwned\\x07"
    assert printable("a\r\nb") == "a\\x0d\\x0ab"
    assert printable("\x9b31m\u202eevil\u2028") == "\\x9b31m\\u202eevil\\u2028"
    assert printable("back\\slash") == "back\\\\slash"
    assert printable("caf\u00e9 \u6e29\u5ea6") == "caf\u00e9 \u6e29\u5ea6"  # letters stay


def test_describe_escapes_a_hostile_device_name() -> None:
    line = describe({"device": "\x1b]0;pwned\x07\r\nforged", "score": 2.5, "seq": 1})
    assert "\\x1b]0;pwned\\x07\\x0d\\x0aforged" in line
    assert is_clean(line)


def test_describe_copes_with_numbers_too_large_to_show() -> None:
    huge = 10 ** 5000
    assert is_clean(describe({"score": huge, "seq": huge, "ts": huge}))


@given(st.dictionaries(st.sampled_from(FIELDS) | NASTY, JSON, max_size=8))
def test_describe_of_any_event_is_one_clean_line(event: dict) -> None:
    assert is_clean(describe(event))


@given(JSON | st.binary())
def test_describe_of_anything_else_is_one_clean_line(value: object) -> None:
    assert is_clean(describe(value))


@given(NASTY)
def test_printable_is_clean(text: str) -> None:
    assert is_clean(printable(text))
