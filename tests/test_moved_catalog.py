"""The render key holds inputs by content, not by location: the same manifest and photos in another folder
(another checkout, a catalog moved or mounted elsewhere) re-render nothing; an OUT stamped with the old key
(absolute paths in it) is re-stamped, not re-rendered; a photo whose bytes changed still renders."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ecomctl.config import load_config
from ecomctl.engine import item
from ecomctl.engine.item import RunContext, item_key, legacy_item_key
from ecomctl.manifest import load_run_manifest
from ecomctl.render.styles import load_styles
from ecomctl.store import files as store_files
from tests.conftest import counting_sidecar_writes, make_product, write_manifest
from tests.test_resume import _posters, _render, _sidecars

FILES = ("m.csv", "a.png", "b.png", "logo.png", "ref.png")


def _catalog(folder: Path) -> Path:
    """One row with a logo (2 variants), one with a reference-image style: every input that is a file."""
    folder.mkdir()
    make_product(folder / "a.png")
    make_product(folder / "b.png", (400, 300))
    make_product(folder / "logo.png", (160, 60))
    make_product(folder / "ref.png", (200, 200), alpha=False)
    return write_manifest(folder / "m.csv", [
        {"sku": "A1", "image": "a.png", "title": "保湿面霜", "price": "¥99", "logo": "logo.png",
         "points": "长效锁水|温和", "size": "512x512", "variants": "2", "style": ""},
        {"sku": "B2", "image": "b.png", "title": "Travel Mug", "price": "$24", "size": "512x512",
         "variants": "1", "style": "ref.png"},
    ])


def _moved(manifest: Path, to: Path) -> Path:
    to.mkdir()
    for name in FILES:
        shutil.copy2(manifest.parent / name, to / name)  # byte-identical, same mtimes (as cp -p / rsync -t)
    return to / "m.csv"


def test_the_render_key_does_not_follow_the_catalogs_folder(tmp_path: Path):
    first = _catalog(tmp_path / "one")
    second = _moved(first, tmp_path / "two")
    cfg = load_config(None, {"run.out": str(tmp_path / "out")})
    ctx = RunContext(cfg=cfg, out=tmp_path / "out", styles=load_styles(cfg.render.styles, first.parent),
                     backend="compose")
    rows = [load_run_manifest(m, cfg)[0].rows for m in (first, second)]
    for a, b in zip(*rows):
        assert a.image != b.image
        logo = store_files.cached_digest(a.logo) if a.logo else None
        assert item_key(a, ctx, "d", logo) == item_key(b, ctx, "d", logo), a.sku
        assert legacy_item_key(a, ctx, "d", logo) != legacy_item_key(b, ctx, "d", logo), a.sku  # paths in it
    assert item_key(rows[0][0], ctx, "d", "x") != item_key(rows[0][0], ctx, "e", "x")  # content still counts
    assert item_key(rows[0][0], ctx, "d", "x") != item_key(rows[0][0], ctx, "d", "y")


def test_a_moved_catalog_renders_nothing_and_is_trusted_again(tmp_path: Path, fast_config: Path,
                                                               counted_digests: list[str], monkeypatch):
    first = _catalog(tmp_path / "one")
    out = tmp_path / "out"
    assert _render(first, out, fast_config).exit_code == 0
    before = _posters(out)
    assert len(before) == 3
    second = _moved(first, tmp_path / "two")
    shutil.rmtree(first.parent)  # gone: nothing may be read from the old folder
    writes = counting_sidecar_writes(monkeypatch)
    store_files._DIGESTS.clear()  # a new process, as the next night is
    counted_digests.clear()
    res = _render(second, out, fast_config)
    assert res.exit_code == 0, res.output
    assert res.stdout.count("(unchanged)") == 3 and _posters(out) == before
    assert sorted(counted_digests) == ["a.png", "b.png", "logo.png", "ref.png"]  # each hashed once: a new path
    assert sorted(writes) == ["A1-v1.json", "A1-v2.json", "B2-v1.json"]  # the new paths recorded, one write each
    for d in _sidecars(out).values():
        assert Path(d["inputs"]["image"]).parent == second.parent
        if d["sku"] == "A1":
            assert d["inputs"]["logo"] == str(second.parent / "logo.png")
            assert d["inputs"]["logo_stat"] == store_files.stat_key(second.parent / "logo.png")
    writes.clear()
    counted_digests.clear()
    store_files._DIGESTS.clear()
    again = _render(second, out, fast_config)  # the night after: stats only, nothing hashed or written
    assert again.stdout.count("(unchanged)") == 3
    assert counted_digests == [] and writes == []  # the reference style too is trusted by its recorded stat
    b2 = _sidecars(out)["B2-v1.json"]["inputs"]
    assert b2["style_stat"] == store_files.stat_key(second.parent / "ref.png") and len(b2["style_sha256"]) == 64
    sidecar = out / "B2" / "B2-v1.json"  # an OUT written before styles had a stat: hashed once, recorded, trusted
    data = json.loads(sidecar.read_text(encoding="utf-8"))
    for k in ("style_sha256", "style_stat"):
        del data["inputs"][k]
    store_files.atomic_write_json(sidecar, data)
    ref = second.parent / "ref.png"
    os.utime(ref, ns=(ref.stat().st_atime_ns, ref.stat().st_mtime_ns + 10**9))  # touched too: same bytes
    for night in (["ref.png"], []):
        writes.clear()
        counted_digests.clear()
        store_files._DIGESTS.clear()
        assert _render(second, out, fast_config).stdout.count("(unchanged)") == 3
        assert counted_digests == night and writes == (["B2-v1.json"] if night else []), night
    make_product(second.parent / "a.png", (320, 400))  # new bytes: A1 renders again, B2 stays
    changed = _render(second, out, fast_config)
    assert changed.exit_code == 0 and changed.stdout.count("(unchanged)") == 1
    assert "B2-v1 (unchanged)" in changed.stdout


def test_an_out_stamped_with_the_legacy_key_is_restamped_not_rerendered(tmp_path: Path, fast_config: Path,
                                                                        monkeypatch):
    manifest = _catalog(tmp_path / "one")
    out = tmp_path / "out"
    with monkeypatch.context() as m:  # the OUT an ecomctl before this change wrote: paths in the key
        m.setattr(item, "item_key", legacy_item_key)
        assert _render(manifest, out, fast_config).exit_code == 0
    before, legacy = _posters(out), _sidecars(out)
    shutil.copytree(out, tmp_path / "legacy")
    shutil.copytree(out, tmp_path / "legacy-moved")
    writes = counting_sidecar_writes(monkeypatch)
    res = _render(manifest, out, fast_config)
    assert res.exit_code == 0 and res.stdout.count("(unchanged)") == 3 and _posters(out) == before
    assert sorted(writes) == ["A1-v1.json", "A1-v2.json", "B2-v1.json"]  # re-stamped: one write each
    now = _sidecars(out)
    for name, d in now.items():
        assert d["key"] != legacy[name]["key"]
        assert {k: v for k, v in d.items() if k != "key"} == {k: v for k, v in legacy[name].items() if k != "key"}
    writes.clear()
    assert _render(manifest, out, fast_config).stdout.count("(unchanged)") == 3 and writes == []
    store_files._DIGESTS.clear()
    moved = _moved(manifest, tmp_path / "two")  # the catalog moved in the same upgrade: the recorded paths count
    res = _render(moved, tmp_path / "legacy-moved", fast_config)
    assert res.exit_code == 0 and res.stdout.count("(unchanged)") == 3, res.output
    assert _sidecars(tmp_path / "legacy-moved")["B2-v1.json"]["key"] == now["B2-v1.json"]["key"]
    res = _render(manifest, tmp_path / "legacy", fast_config, "--seed", "7")  # a legacy OUT after a pixel change
    assert res.exit_code == 0 and "unchanged" not in res.stdout and "re-graded" not in res.stdout
