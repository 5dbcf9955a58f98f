"""What a worker keeps between posters is bounded by what fits, not by how many posters it renders."""

from __future__ import annotations


def test_open_font_faces_are_bounded():
    """Each open face of the CJK font holds ~4-5 MB (FreeType tables and glyphs); a catalog whose copy keeps
    bringing new sizes must not make a worker keep hundreds of them (512 could hold ~2.7 GB)."""
    from ecomctl.text.fonts import FONT_CACHE, load_font

    load_font.cache_clear()
    try:
        for size in range(12, 12 + 3 * FONT_CACHE):
            load_font(size, 800)
        info = load_font.cache_info()
        assert info.currsize <= FONT_CACHE <= 64, info
        assert load_font(12 + 3 * FONT_CACHE - 1, 800) is load_font(12 + 3 * FONT_CACHE - 1, 800)  # still cached
    finally:
        load_font.cache_clear()
