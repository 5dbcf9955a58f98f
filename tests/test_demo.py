"""The shipped demo catalog: CSV and YAML twins agree, and it exercises what the README promises."""

from __future__ import annotations

from dataclasses import replace

from ecomctl.manifest import load_manifest
from ecomctl.subject import has_useful_alpha
from tests.conftest import ROOT


def test_demo_csv_and_yaml_are_twins():
    csv_rows = load_manifest(ROOT / "manifests" / "demo.csv").rows
    yaml_rows = load_manifest(ROOT / "manifests" / "demo.yaml").rows
    assert [replace(r, where="") for r in csv_rows] == [replace(r, where="") for r in yaml_rows]


def test_demo_covers_sizes_languages_and_photos_without_alpha():
    from PIL import Image

    rows = load_manifest(ROOT / "manifests" / "demo.csv").rows
    assert sum(r.variants for r in rows) >= 8
    assert len({r.size for r in rows}) >= 2
    assert {r.lang for r in rows} >= {"zh", "en"}
    flat = [r for r in rows if not has_useful_alpha(Image.open(r.image))]
    assert len(flat) >= 2


def test_the_readme_says_what_make_demo_writes():
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"`make demo` writes (\d+) posters \((\d+) SKUs × (\d+) variants, (.*?)\)", text, re.DOTALL)
    assert m is not None
    rows = load_manifest(ROOT / "manifests" / "demo.csv").rows
    assert (int(m.group(1)), int(m.group(2))) == (sum(r.variants for r in rows), len(rows))
    assert {r.variants for r in rows} == {int(m.group(3))}
    stated = set()
    for size in re.findall(r"(\d+)(²|×(\d+))", m.group(4)):
        stated.add((int(size[0]), int(size[2] or size[0])))
    assert stated == {(r.size.w, r.size.h) for r in rows}
