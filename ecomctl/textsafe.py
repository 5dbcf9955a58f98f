"""Text hygiene at both edges: line breaks and control characters found in manifest copy (load & validate),
and neutralised in anything written for people to read (terminal lines, report.csv, report.html)."""

from __future__ import annotations

import re
import unicodedata

# an explicit line break in a manifest field, whatever the spreadsheet wrote: CRLF, CR, LINE SEPARATOR,
# PARAGRAPH SEPARATOR all become "\n" (a forced break in the copy)
_BREAKS = re.compile("\r\n|\r|\u2028|\u2029")
_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "backspace", 0x09: "tab", 0x0A: "line feed", 0x0B: "vertical tab",
          0x0C: "form feed", 0x1B: "ESC", 0x7F: "DEL", 0x85: "NEL"}
# invisible reordering controls: harmless in a file, misleading on a screen ("Trojan source")
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


# the user:password@ of a URL (up to the authority's last '@': a password may hold an unescaped one)
_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@")


def hide_credentials(text: str) -> str:
    """Every URL in `text` with its user and password replaced: `https://***@host/…`. A photo URL may carry
    credentials (requests sends them as Basic auth); no line, log, report or sidecar shows them."""
    return _CREDENTIALS.sub(r"\1***@", text)


def normalise_breaks(text: str) -> str:
    return _BREAKS.sub("\n", text)


def is_control(ch: str) -> bool:
    """C0, DEL and C1 control characters (Unicode category Cc)."""
    return unicodedata.category(ch) == "Cc"


def first_control(text: str, allowed: str = "") -> tuple[int, str] | None:
    """(0-based position, character) of the first control character not in `allowed`, else None."""
    for i, ch in enumerate(text):
        if ch not in allowed and is_control(ch):
            return i, ch
    return None


def describe(ch: str) -> str:
    """`U+001B (ESC)`: a control character named without ever printing it."""
    code = ord(ch)
    name = _NAMES.get(code)
    return f"U+{code:04X}" + (f" ({name})" if name else "")


def neutralise(text: str, keep: str = "") -> str:
    """Control and bidi-override characters as visible escapes (`\\x1b`, `\\u202e`); `keep` lists those
    left alone (report.html keeps "\\n" and "\\t", which HTML shows as plain space)."""
    if text.isprintable() and not _BIDI.intersection(text):
        return text  # fast path: almost every cell
    out = []
    for ch in text:
        if ch in keep or not (is_control(ch) or ch in _BIDI or ch in "\u2028\u2029"):
            out.append(ch)
        else:
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
    return "".join(out)
