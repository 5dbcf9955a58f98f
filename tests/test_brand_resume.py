"""The logo is part of the render key by content, trusted by its stat as the photo is: a new logo re-renders,
a touched one with the same bytes is hashed once and trusted again, an unchanged one is not read at all."""

from __future__ import annotations

import os
from pathlib import Path

from ecomctl.store import files as store_files
from tests.conftest import make_product, write_manifest
from tests.test_resume import _render


def _manifest(tmp_path: Path) -> Path:
    make_product(tmp_path / "a.png")
    make_product(tmp_path / "logo.png", (160, 60))
    return write_manifest(tmp_path / "m.csv", [
        {"sku": "A1", "image": "a.png", "title": "保湿面霜", "price": "¥99", "list_price": "¥129",
         "logo": "logo.png", "points": "长效锁水|温和", "size": "512x512", "variants": "1"},
    ])


def test_logo_content_is_in_the_render_key(tmp_path: Path, fast_config: Path, counted_digests: list[str]):
    manifest, out = _manifest(tmp_path), tmp_path / "out"
    assert _render(manifest, out, fast_config).exit_code == 0
    counted_digests.clear()
    store_files._DIGESTS.clear()  # as a new process would be
    assert _render(manifest, out, fast_config).stdout.count("(unchanged)") == 1
    assert counted_digests == []  # neither photo nor logo read: their stats are the recorded ones
    logo = tmp_path / "logo.png"
    st = logo.stat()
    os.utime(logo, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # same bytes, new mtime
    store_files._DIGESTS.clear()
    assert _render(manifest, out, fast_config).stdout.count("(unchanged)") == 1
    assert counted_digests == ["logo.png"]
    counted_digests.clear()
    store_files._DIGESTS.clear()
    assert _render(manifest, out, fast_config).stdout.count("(unchanged)") == 1
    assert counted_digests == []  # the new stat was recorded
    make_product(logo, (180, 60))  # a new logo under the same name
    res = _render(manifest, out, fast_config)
    assert res.exit_code == 0 and res.stdout.count("(unchanged)") == 0
