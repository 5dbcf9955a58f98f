"""Poster sizes: `WxH` or a platform preset, each side 256..4096 px. Below config, the manifest and the store,
which all read sizes (a `render.size` setting, a manifest's `size` column, a sidecar's inputs)."""

from __future__ import annotations

import difflib
import re

from ecomctl.textsafe import neutralise
from ecomctl.types import Size

__all__ = ["MAX_SIDE", "MIN_SIDE", "SIZE_PRESETS", "parse_size"]
SIZE_PRESETS = {
    "square": Size(1024, 1024), "square-800": Size(800, 800), "square-1024": Size(1024, 1024),
    "tmall": Size(800, 800), "jd": Size(800, 800), "amazon": Size(1600, 1600),
    "instagram": Size(1080, 1080), "portrait": Size(1080, 1350),
    "story": Size(1080, 1920), "banner": Size(1200, 628),
}
_SIZE_RE = re.compile(r"^(\d{1,6})\s*[xX×]\s*(\d{1,6})$")
MIN_SIDE, MAX_SIDE = 256, 4096


def parse_size(value: str) -> Size:
    """`1024x1024`, `1080X1920` or a preset name (square-800, story, banner …); every side 256..4096 px."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        # ValueError (not TypeError): pydantic turns it into this field's message
        raise ValueError(f"bad size {neutralise(repr(value))[:60]}: use WxH (e.g. 1024x1024) or a preset")  # noqa: TRY004
    text = str(value).strip().lower()
    m = _SIZE_RE.match(text)
    if text in SIZE_PRESETS:
        size = SIZE_PRESETS[text]
    elif m:
        size = Size(int(m.group(1)), int(m.group(2)))
    else:
        close = difflib.get_close_matches(text, SIZE_PRESETS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"bad size {value!r}: use WxH (e.g. 1024x1024) or a preset{hint}")
    if not (MIN_SIDE <= size.w <= MAX_SIDE and MIN_SIDE <= size.h <= MAX_SIDE):
        raise ValueError(f"bad size {value!r}: each side must be {MIN_SIDE}..{MAX_SIDE} px")
    return size
