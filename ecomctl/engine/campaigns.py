"""The campaign stage, in one place: every SKU of a campaign renders against one reference style — a given image,
or its first scene — and each of its posters gets a `style.campaign` check against that reference.

Here: campaign names and given references, which rows join the run's campaign, the order (each campaign's
first SKU, then the rest), the reference made from a first scene, and the scoring: `with_check` adds the
check that qa/style.py measures to a poster's verdict where it is graded (the worker, a re-grade), before
the store writes its sidecar, so the sidecar is written once; `Scorer` scores what could not be scored
there (a campaign's first SKU, rendered before its reference existed). The store names
`OUT/campaigns/<name>.png`; `render/styles.py` treats the reference as a style image."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ecomctl.config import Config
from ecomctl.engine import executors
from ecomctl.engine.item import RunContext, style_for
from ecomctl.errors import ConfigError, EcomctlError, InputImageError
from ecomctl.feed import Feed
from ecomctl.imaging import grow_mask, inpaint
from ecomctl.io import open_image
from ecomctl.qa import merge_checks, style
from ecomctl.qa.thresholds import thresholds
from ecomctl.store import OutputStore, atomic_save_image
from ecomctl.store.files import cached_digest
from ecomctl.store.posters import rewrite_sidecar
from ecomctl.store.sidecar import qa_json, read_sidecar
from ecomctl.types import Check, ItemResult, Poster, QAResult, SkuRow

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
REF_SIDE = 1536  # longest side a campaign reference is stored at (it is blurred or resized by every backend)


def reference_path(out: Path, name: str) -> Path:
    """OUT/campaigns/<name>.png: the reference every SKU of the campaign is rendered (and scored) against."""
    return OutputStore(out).campaign_reference(name)


def given_references(default: str | None, references: dict[str, Path]) -> dict[str, Path]:
    """Validated `render.campaigns` (name → image) and `render.campaign`; bad names or images: exit 2."""
    for name in [default, *references] if default else references:
        if not NAME.match(str(name)):
            raise ConfigError(f"campaign {name!r}: use letters, digits, '_' or '-' (at most 64)")
    out = {}
    for name, path in references.items():
        try:
            open_image(path)
        except InputImageError as e:
            raise ConfigError(f"render.campaigns.{name}: {e}") from None
        out[str(name)] = Path(path)
    return out


def assign(rows: list[SkuRow], default: str | None) -> list[SkuRow]:
    """Rows without a `campaign` value join the run's default campaign (`--campaign NAME`), if any."""
    return rows if not default else [r if r.campaign else replace(r, campaign=default) for r in rows]


def run(kind: str, rows: Feed | list[SkuRow], ctx: RunContext, given: dict[str, Path],
        score: Callable[[ItemResult], ItemResult] = lambda r: r) -> Iterator[ItemResult]:
    """Render `rows`; campaign rows get their campaign's reference as style, and each result goes through
    `score` (the style-consistency check) once its campaign's reference exists.

    A campaign without a given image takes its first SKU's first scene: that SKU renders first, alone
    with the other campaigns' first SKUs, with its own style (variants pinned to it); its scene, with the
    product and its shadow filled in, becomes the reference for the rest (if it fails, the next SKU's).

    Without campaigns the rows stream to the executor as they arrive (photos by URL); a run with campaigns
    waits for every row first (its photos downloaded), since the first SKUs must render before the rest."""
    feed = Feed.of(rows)
    if not any(r.campaign for r in feed.planned):
        yield from _scored(executors.run(kind, feed, ctx), score)
        return
    rows = list(feed)  # the feed's error rows stay in it, for whoever made it
    refs = {name: _store_given(ctx.out, name, path) for name, path in given.items()
            if any(r.campaign == name for r in rows)}
    rest = list(rows)
    while True:
        firsts = _first_rows(rest, refs)
        if not firsts:
            break
        pinned = [_pin_style(row, ctx) for row in firsts.values()]
        done = list(_render_keeping_scene(kind, pinned, ctx))
        for name, row in firsts.items():
            rest.remove(row)
            ref = _reference_from_scene(ctx.out, row, name)
            if ref is not None:
                refs[name] = ref
        yield from map(score, done)
    if rest:
        yield from _scored(executors.run(kind, [_styled(r, refs) for r in rest], ctx), score)


def _scored(work: Iterator[ItemResult], score: Callable[[ItemResult], ItemResult]) -> Iterator[ItemResult]:
    """`score` over the executor's results; closing this closes the executor (it reaps its workers)."""
    try:
        for res in work:
            yield score(res)
    finally:
        close = getattr(work, "close", None)
        if close:
            close()


def _first_rows(rows: list[SkuRow], refs: dict[str, Path]) -> dict[str, SkuRow]:
    firsts: dict[str, SkuRow] = {}
    for row in rows:
        if row.campaign and row.campaign not in refs and row.campaign not in firsts:
            firsts[row.campaign] = row
    return firsts


def _styled(row: SkuRow, refs: dict[str, Path]) -> SkuRow:
    ref = refs.get(row.campaign or "")
    return replace(row, style=str(ref)) if ref else row


def _pin_style(row: SkuRow, ctx: RunContext) -> SkuRow:
    """The first SKU keeps one look across its variants (variants then walk the templates)."""
    return row if row.style else replace(row, style=style_for(row, 1, ctx).name)


def _render_keeping_scene(kind: str, rows: list[SkuRow], ctx: RunContext) -> Iterator[ItemResult]:
    """Render with the clean background layer kept; a finished SKU whose layer is missing renders again."""
    cfg = ctx.cfg.model_copy(update={"run": ctx.cfg.run.model_copy(update={"keep_layers": True})})
    keep = replace(ctx, cfg=cfg)
    missing = [r for r in rows if not _scene_path(ctx.out, r).is_file()]
    present = [r for r in rows if r not in missing]
    for group, context in ((present, keep), (missing, replace(keep, force=True))):
        if group:  # an empty group starts no pool and no Ray instance
            yield from _scored(executors.run(kind, group, context), lambda r: r)


def _layer(out: Path, row: SkuRow, name: str) -> Path:
    """A layer of the SKU's first poster: `background` (its clean scene) or `subject` (placed product mask)."""
    files = OutputStore(out).poster(row.sku, 1)
    return files.layer(files.names[name])


def _scene_path(out: Path, row: SkuRow) -> Path:
    return _layer(out, row, "background")


def _reference_from_scene(out: Path, row: SkuRow, name: str) -> Path | None:
    """The first SKU's v1 scene with its product (and contact shadow) filled in from the surroundings, so
    the reference carries the campaign's palette, light and texture but no product of its own."""
    scene, placed = _scene_path(out, row), _layer(out, row, "subject")
    if not (scene.is_file() and placed.is_file()):
        return None
    image = Image.open(scene).convert("RGB")
    mask = np.asarray(Image.open(placed).convert("L"))
    w, h = image.size
    small = (max(1, round(w * 256 / max(w, h))), max(1, round(h * 256 / max(w, h))))
    hole = grow_mask(np.asarray(Image.fromarray(mask).resize(small, Image.Resampling.BILINEAR)), 10)
    filled = inpaint(image.resize(small, Image.Resampling.LANCZOS), hole, radius=7)  # large holes: low res
    up = filled.resize((w, h), Image.Resampling.BICUBIC)
    big_hole = Image.fromarray(hole).resize((w, h), Image.Resampling.BILINEAR)
    image.paste(up, (0, 0), big_hole)
    return _save(out, name, image)


def _store_given(out: Path, name: str, path: Path) -> Path:
    return _save(out, name, open_image(path).convert("RGB"))


def _save(out: Path, name: str, image: Image.Image) -> Path:
    image.thumbnail((REF_SIDE, REF_SIDE), Image.Resampling.LANCZOS)
    target = reference_path(out, name)
    atomic_save_image(target, image)
    return target


_VECTORS: dict[str, np.ndarray] = {}  # reference content digest → style vector, per process


def reference_vector(path: Path) -> np.ndarray | None:
    """The style vector of a campaign reference (None when there is none), once per process per content."""
    try:
        digest = cached_digest(path)
    except OSError:
        return None
    if digest not in _VECTORS:
        with Image.open(path) as im:
            _VECTORS[digest] = style.style_vector(im)
    return _VECTORS[digest]


def poster_check(poster: Poster, store: OutputStore, cfg: Config, rendered: bool = True) -> Check | None:
    """The `style.campaign` check of a campaign's poster against OUT/campaigns/<name>.png, made from the poster
    in memory. `rendered`: only for a poster rendered against that reference (the run's first SKU of a
    campaign renders before its reference exists: `Scorer` scores it later); else any campaign poster (a
    re-grade by `ecomctl qa`). None: no check to add here."""
    limits, name = thresholds(cfg).style, poster.row.campaign
    if not (name and limits.enabled):
        return None
    path = store.campaign_reference(name)
    if rendered and (not poster.row.style or Path(poster.row.style) != path):
        return None
    vector = reference_vector(path)
    if vector is None and rendered:
        return None
    image = None if vector is None else poster.image
    return style.campaign_check(image, np.asarray(poster.subject_mask), vector, name, limits.campaign_warn)


def with_check(poster: Poster, verdict: QAResult, store: OutputStore, cfg: Config,
               rendered: bool = True) -> QAResult:
    """`verdict` with the poster's campaign check (see `poster_check`), before the store writes it."""
    check = poster_check(poster, store, cfg, rendered)
    return verdict if check is None else merge_checks(verdict, [check])


def scored(qa: QAResult | None) -> bool:
    """Whether a verdict carries its campaign check."""
    return qa is not None and any(c.name == style.CHECK for c in qa.checks)


class Scorer:
    """The run's scoring step for what was not scored where it was graded: adds a `style.campaign` check to a
    campaign poster that has none (a campaign's first SKU) and has the store rewrite its sidecar; other
    results pass through. Reference vectors come from OUT/campaigns/<name>.png."""

    def __init__(self, out: Path, cfg: Config):
        limits = thresholds(cfg).style
        self.store, self.enabled, self.warn = OutputStore(out), limits.enabled, limits.campaign_warn
        self.refs: dict[str, np.ndarray | None] = {}

    def __call__(self, res: ItemResult) -> ItemResult:
        return self._score(res) if self.enabled else res

    def _score(self, res: ItemResult) -> ItemResult:
        if res.sidecar is None or res.image is None or res.status == "error":
            return res
        if res.resumed and (not res.campaign or scored(res.qa)):
            return res  # unchanged since it was scored (a new reference or threshold re-renders or re-grades it)
        if res.campaign and scored(res.qa):
            return res  # scored where it was graded, against the reference it was rendered with
        try:
            data = read_sidecar(res.sidecar)
        except EcomctlError:
            return res
        name = (data.get("inputs") or {}).get("campaign")
        if not name:
            return res
        if name not in self.refs:
            self.refs[name] = reference_vector(self.store.campaign_reference(name))
        check = self._check(res, data, name)
        qa = merge_checks(res.qa or QAResult("pass"), [check])
        if (data.get("qa") or {}) != qa_json(qa):
            rewrite_sidecar(res.sidecar, {**data, "qa": qa_json(qa)})
        return replace(res, qa=qa, status=qa.status, campaign=name)

    def _check(self, res: ItemResult, data: dict[str, Any], name: str) -> Check:
        ref = self.refs[name]
        if ref is None:
            return style.campaign_check(None, None, None, name, self.warn)
        mask_file = (data.get("files") or {}).get("subject")
        mask_path = self.store.of_sidecar(res.sidecar).layer(mask_file) if mask_file else None
        mask = np.asarray(Image.open(mask_path).convert("L")) if mask_path and mask_path.is_file() else None
        with Image.open(res.image) as im:
            return style.campaign_check(im, mask, ref, name, self.warn)
