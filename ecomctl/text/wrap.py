"""Line breaking for mixed Chinese/English copy: CJK breaks anywhere (with kinsoku), Latin at spaces."""

from __future__ import annotations

import re
from collections.abc import Callable

from PIL import ImageFont

# Latin words (with trailing space), digits and currency; everything else is one token per character.
_TOKEN = re.compile(r"[A-Za-z0-9'’%.,!?&+\-/:$¥￥€£#]+\s*|\s+|.", re.DOTALL)
# may not start a line (closing punctuation) / may not end a line (opening punctuation)
_NO_START = set("，。！？、；：）」』】》〉”’…%,.!?;:)]}·～~")
_NO_END = set("（「『【《〈“‘([{$¥￥€£#")
# separators between phrases ("Two cases · one price", "A | B"): a line break replaces them, so one is never
# left dangling at the end of a line, nor starts the next
_SEPARATORS = "·•|｜/／—–-~～ \u3000"


def tokens(text: str) -> list[str]:
    out: list[str] = []
    for tok in _TOKEN.findall(text):
        if out and (tok[0] in _NO_START or out[-1][-1] in _NO_END):
            out[-1] += tok
        else:
            out.append(tok)
    return out


def _greedy(toks: list[str], length: Callable[[str], float], max_w: float) -> list[str] | None:
    lines, cur = [], ""
    for tok in toks:
        trial = cur + tok
        if cur and length(trial.rstrip()) > max_w:
            lines.append(cur.rstrip())
            cur = tok.lstrip()
        else:
            cur = trial
        if length(cur.rstrip()) > max_w:
            return None  # a single token wider than the box
    if cur.strip():
        lines.append(cur.rstrip())
    return lines


def wrap(text: str, font: ImageFont.FreeTypeFont, max_w: float, max_lines: int,
         phrases: bool = False) -> list[str] | None:
    """Fewest lines that fit `max_w`, then balanced (no orphan); None when it cannot fit in `max_lines`.

    With `phrases`, only spaces are break points (copywriters separate Chinese phrases with spaces).
    A "\n" in the copy (a line break the manifest asked for) always starts a new line; each part between
    forced breaks is wrapped on its own, and all lines together must fit in `max_lines`.
    """
    parts = [p for p in (s.strip() for s in text.split("\n")) if p]
    if len(parts) > 1:
        lines: list[str] = []
        for i, part in enumerate(parts):
            got = _wrap_part(part, font, max_w, max_lines - len(lines) - (len(parts) - i - 1), phrases)
            if got is None:
                return None
            lines += got
        return lines
    return _wrap_part(text, font, max_w, max_lines, phrases)


def _wrap_part(text: str, font: ImageFont.FreeTypeFont, max_w: float, max_lines: int,
               phrases: bool) -> list[str] | None:
    if max_lines < 1:
        return None
    toks = re.findall(r"\S+\s*", text.strip()) if phrases else tokens(text.strip())
    widths: dict[str, float] = {}  # the balancing search measures the same prefixes again and again

    def length(s: str) -> float:
        if s not in widths:
            widths[s] = font.getlength(s)
        return widths[s]

    lines = _greedy(toks, length, max_w)
    if lines is None or len(lines) > max_lines:
        return None
    if len(lines) == 1:
        return lines
    lo, hi = max_w / len(lines), max_w  # shrink the width while the line count holds: balanced lines
    for _ in range(12):
        mid = (lo + hi) / 2
        trial = _greedy(toks, length, mid)
        if trial is not None and len(trial) == len(lines):
            hi = mid
        else:
            lo = mid
    return _drop_separators(_greedy(toks, length, hi) or lines)


def _drop_separators(lines: list[str]) -> list[str]:
    """A separator at a line break goes: "Two cases ·" / "one price" → "Two cases" / "one price"."""
    out = []
    for i, line in enumerate(lines):
        if i < len(lines) - 1:
            line = line.rstrip(_SEPARATORS)
        if i > 0:
            line = line.lstrip(_SEPARATORS)
        if line:
            out.append(line)
    return out
