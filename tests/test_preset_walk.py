"""The preset walk of unstyled SKUs (render/styles.preset_walk, engine/item.style_for): a rendezvous order
per SKU, so a new preset changes only the SKUs that take it, and a palette-distance rule, so no SKU gets
two variants whose presets look alike."""

from __future__ import annotations

import colorsys
import itertools
from dataclasses import replace

import pytest

from ecomctl.config import load_config
from ecomctl.engine.item import RunContext, derive_seed, item_key, style_for
from ecomctl.render.styles import load_styles, preset_walk, style_distance
from ecomctl.types import Size, SkuRow, Style

MIN_DE = 20.0
SKUS = [f"SKU-{i:04d}" for i in range(400)]


def _rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
    return tuple(round(c * 255) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))  # type: ignore[return-value]


def _preset(name: str, hue: float, v: float = 0.85) -> Style:
    return Style(name=name, background=(_rgb(hue, 0.35, v), _rgb(hue, 0.55, v - 0.15)),
                 accent=_rgb(hue + 0.5, 0.8, 0.7))


def eight() -> dict[str, Style]:
    """Four looks, each with a near twin (a slightly shifted hue): the pairs a plain walk would put side by
    side."""
    styles = {}
    for i, hue in enumerate((0.0, 0.25, 0.5, 0.75)):
        styles[f"look-{i}"] = _preset(f"look-{i}", hue)
        styles[f"look-{i}-twin"] = _preset(f"look-{i}-twin", hue + 0.02, 0.82)
    return styles


def walks(styles: dict[str, Style], variants: int, min_de: float = MIN_DE) -> dict[str, list[str]]:
    return {sku: [s.name for s in preset_walk(sku, styles, variants, min_de)] for sku in SKUS}


def test_the_fixture_has_near_twins_and_distinct_looks():
    s = eight()
    assert all(style_distance(s[f"look-{i}"], s[f"look-{i}-twin"]) < MIN_DE for i in range(4))
    assert min(style_distance(s[f"look-{i}"], s[f"look-{j}"]) for i, j in itertools.combinations(range(4), 2)) > MIN_DE


@pytest.mark.parametrize("variants", [2, 3])
def test_a_ninth_preset_changes_only_the_skus_that_take_it(variants):
    before = walks(eight(), variants)
    ninth = {**eight(), "new-look": _preset("new-look", 0.62, 0.6)}
    after = walks(ninth, variants)
    changed = {sku for sku in SKUS if before[sku] != after[sku]}
    took = {sku for sku in SKUS if "new-look" in after[sku]}
    assert changed == took  # every other SKU keeps every variant's preset (and so its render key)
    # about variants/9 of the SKUs (a preset that is a near twin of the first pick is skipped)
    assert 0.5 * variants / 9 * len(SKUS) < len(changed) < 1.5 * variants / 9 * len(SKUS)
    # the walk this replaces (sorted presets from seed % len(presets)) moved nearly every SKU
    assert sum(_old_walk(sku, ninth, variants) != _old_walk(sku, eight(), variants) for sku in SKUS) > 0.8 * len(SKUS)


def _old_walk(sku: str, styles: dict[str, Style], variants: int) -> list[str]:
    names = sorted(styles)
    start = derive_seed(0, sku, 0) % len(names)
    return [names[(start + v) % len(names)] for v in range(variants)]


@pytest.mark.parametrize("variants", [2, 3, 4])
def test_no_sku_gets_two_variants_that_look_alike(variants):
    for styles in (eight(), {**eight(), "new-look": _preset("new-look", 0.62, 0.6)}):
        for sku, names in walks(styles, variants).items():
            assert len(set(names)) == variants
            for a, b in itertools.combinations(names, 2):
                assert style_distance(styles[a], styles[b]) >= MIN_DE, (sku, a, b)
    plain = walks(eight(), 2, min_de=0.0)  # rendezvous alone: some SKUs get a look and its twin
    assert sum(style_distance(eight()[a], eight()[b]) < MIN_DE for a, b in plain.values()) > 20


def test_walk_past_the_presets_repeats_and_falls_back_to_the_farthest():
    styles = eight()
    names = [s.name for s in preset_walk("X", styles, 10, MIN_DE)]
    assert sorted(names[:8]) == sorted(styles) and names[8:] == names[:2]
    tight = [s.name for s in preset_walk("X", styles, 8, 1000.0)]  # none is that far: the farthest each time
    assert len(set(tight)) == 8


def test_render_keys_change_only_for_skus_that_take_the_new_preset(tmp_path):
    cfg = load_config(None)
    styles = load_styles(None)
    rows = [SkuRow(sku=sku, image=tmp_path / "p.png", title="t", size=Size(512, 512), variants=2) for sku in SKUS[:60]]
    ctx = RunContext(cfg, tmp_path, styles, "compose")
    grown = RunContext(cfg, tmp_path, {**styles, "ocean-teal": replace(styles["fresh-mint"], name="ocean-teal",
                                                                      background=((10, 90, 110), (4, 40, 60)))},
                       "compose")
    keys = {r.sku: item_key(r, ctx, "d", None) for r in rows}
    moved = {r.sku for r in rows if item_key(r, grown, "d", None) != keys[r.sku]}
    took = {r.sku for r in rows if "ocean-teal" in (style_for(r, 1, grown).name, style_for(r, 2, grown).name)}
    assert moved == took and 0 < len(moved) < 30
