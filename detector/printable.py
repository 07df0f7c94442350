"""Text from records made safe for a terminal, a log line or a header: one line, no controls."""

from __future__ import annotations


def printable(text: str) -> str:
    r"""`text` with every non-printable character as its \x.., \u.... or \U........ escape.

    Escaped: control and format characters (ESC, CR, LF, BEL, C1 controls, bidi overrides,
    zero-width marks), line and paragraph separators, surrogates, private-use and unassigned
    code points, and spaces other than " ". A backslash is doubled, so escapes stay unambiguous.
    """
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(ch if ch.isprintable() and ch != "\\" else escape(ch) for ch in text)


def escape(ch: str) -> str:
    """One character as a Python-style escape."""
    code = ord(ch)
    if ch == "\\":
        return "\\\\"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def text_of(value: object) -> str:
    """str(value), or a stand-in when Python refuses (an int of more than 4,300 digits)."""
    try:
        return str(value)
    except ValueError:
        return f"<{type(value).__name__} too long to show>"
