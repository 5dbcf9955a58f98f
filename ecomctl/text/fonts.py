"""Fonts for typesetting: Noto Sans CJK (pip package manimgx-fonts-cjk), weights via the variable axis."""

from __future__ import annotations

import functools
from pathlib import Path

from PIL import ImageFont

from ecomctl.errors import BackendUnavailable

# NotoSansCJK-VF.otf.ttc faces (regional glyph forms of one Pan-CJK font); Simplified Chinese covers our copy
NOTO_FACES = {"jp": 0, "kr": 1, "sc": 2, "tc": 3, "hk": 4}


def default_font_path() -> Path:
    try:
        import manimgx_fonts_cjk
    except ImportError:
        raise BackendUnavailable("the CJK font package is missing: pip install manimgx-fonts-cjk") from None
    return Path(manimgx_fonts_cjk.__file__).with_name("NotoSansCJK-VF.otf.ttc")


# faces kept open per process: each open face of the CJK font holds ~4 MB of FreeType tables (+ ~1 MB of
# glyphs once used), and with faces coming and going a slot costs up to ~11 MB of a worker's RSS; 512 (the old
# bound) let a worker grow by gigabytes as a catalog's copy brought new sizes. A catalog's layouts use a few
# dozen sizes (73 over 300 packshot posters); at 32 a poster misses ~5 times, ~0.2 ms each
FONT_CACHE = 32


@functools.lru_cache(maxsize=FONT_CACHE)
def load_font(size: int, weight: int = 400, path: str | None = None, face: str = "sc") -> ImageFont.FreeTypeFont:
    """A font face at `size` px and `weight` (100..900, variable fonts; static fonts ignore weight); `face`
    picks the packaged Noto Sans CJK's regional face (jp, kr, sc, tc, hk) when no `path` is given."""
    file = Path(path) if path else default_font_path()
    index = NOTO_FACES[face] if file.suffix.lower() == ".ttc" and not path else 0
    try:
        font = ImageFont.truetype(str(file), size=max(1, int(size)), index=index,
                                  layout_engine=ImageFont.Layout.BASIC)
    except OSError as e:
        raise BackendUnavailable(f"cannot load font {file}: {e}") from None
    try:
        axes = font.get_variation_axes()
    except OSError:  # not a variable font
        return font
    lo, hi = axes[0]["minimum"], axes[0]["maximum"]
    font.set_variation_by_axes([min(hi, max(lo, weight))])
    return font

