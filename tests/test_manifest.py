"""Manifest loading: CSV/YAML shapes, defaults, and every problem reported as file:row:column."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecomctl.errors import ManifestError
from ecomctl.manifest import load_manifest, parse_size
from ecomctl.types import Size
from tests.conftest import make_product, write_manifest


def test_csv_rows_resolve_paths_and_defaults(small_manifest: Path) -> None:
    m = load_manifest(small_manifest, default_size="1024x1024", default_variants=3)
    a, b = m.rows
    assert a.sku == "A1" and a.image == (small_manifest.parent / "a.png").resolve()
    assert a.size == Size(512, 512) and a.variants == 2 and a.badge == "新品"
    assert b.size == Size(1200, 628) and b.badge is None and b.where == f"{small_manifest}:3"


def test_yaml_defaults_and_skus(tmp_path: Path) -> None:
    make_product(tmp_path / "p.png")
    path = tmp_path / "m.yaml"
    path.write_text(
        "defaults:\n  size: story\n  variants: 2\nskus:\n"
        "  - sku: S1\n    image: p.png\n    title: 标题\n    price: 99\n"
        "  - sku: S2\n    image: p.png\n    title: Second\n    size: 800x800\n", encoding="utf-8")
    a, b = load_manifest(path).rows
    assert (a.size, a.variants, a.price) == (Size(1080, 1920), 2, "99")
    assert b.size == Size(800, 800)


def test_bad_csv_lists_every_problem_with_location(tmp_path: Path) -> None:
    make_product(tmp_path / "p.png")
    path = write_manifest(tmp_path / "bad.csv", [
        {"sku": "X1", "image": "p.png", "title": "ok", "size": "1024x1024"},
        {"sku": "X1", "image": "p.png", "title": "dup", "size": "1024x1024"},
        {"sku": "X3", "image": "missing.png", "title": "t", "size": "12x12"},
        {"sku": "X4", "image": "p.png", "title": "", "size": "1024x1024"},
    ])
    with pytest.raises(ManifestError) as e:
        load_manifest(path)
    assert e.value.problems == [
        f"{path}:3:1: sku: duplicate 'X1' (first on row 2)",
        f"{path}:4:2: image: file not found: missing.png",
        f"{path}:4:4: size: bad size '12x12': each side must be 256..4096 px",
        f"{path}:5:3: title: required, but empty",
    ]


def test_missing_file_is_reported_with_its_column(tmp_path: Path) -> None:
    path = write_manifest(tmp_path / "m.csv", [{"sku": "A", "image": "nope.png", "title": "t"}])
    with pytest.raises(ManifestError) as e:
        load_manifest(path)
    assert e.value.problems == [f"{path}:2:2: image: file not found: nope.png"]


def test_missing_and_unknown_columns(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("sku,image,titel\nA,p.png,x\n", encoding="utf-8")
    with pytest.raises(ManifestError) as e:
        load_manifest(path)
    assert e.value.problems[:2] == [
        f"{path}:1:3: unknown column 'titel'; did you mean 'title'?",
        f"{path}:1:4: missing required column 'title'",
    ]


def test_unknown_style_and_template_suggest(tmp_path: Path) -> None:
    make_product(tmp_path / "p.png")
    path = write_manifest(tmp_path / "m.csv", [
        {"sku": "A", "image": "p.png", "title": "t", "style": "festive-rad", "template": "hero"}])
    with pytest.raises(ManifestError) as e:
        load_manifest(path)
    assert e.value.problems[0].startswith(f"{path}:2:4: style: unknown style 'festive-rad'; did you mean 'festive-red'?")
    assert e.value.problems[1].startswith(f"{path}:2:5: template: unknown template 'hero'; did you mean 'hero-top'?")


def test_yaml_problem_points_at_the_key(tmp_path: Path) -> None:
    make_product(tmp_path / "p.png")
    path = tmp_path / "m.yaml"
    path.write_text("- sku: A\n  image: p.png\n  title: t\n  variants: 99\n  colour: red\n", encoding="utf-8")
    with pytest.raises(ManifestError) as e:
        load_manifest(path)
    assert e.value.problems == [
        f"{path}:4:3: variants: Input should be less than or equal to 16",
        f"{path}:5:3: unknown column 'colour'",
    ]


@pytest.mark.parametrize("text,size", [("1024x1024", Size(1024, 1024)), ("1080X1920", Size(1080, 1920)),
                                       ("banner", Size(1200, 628)), ("square-800", Size(800, 800))])
def test_parse_size(text: str, size: Size) -> None:
    assert parse_size(text) == size


def test_parse_size_suggests_preset() -> None:
    with pytest.raises(ValueError, match="did you mean 'story'"):
        parse_size("stroy")
