"""One SKU through every stage: extract → layout → scene → paste → typeset → QA → write (errors captured)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ecomctl import __version__
from ecomctl.config import Config
from ecomctl.engine.sidecar import SCHEMA, layout_json, qa_json, row_json, style_json
from ecomctl.errors import EcomctlError, ExtractionError, InputImageError
from ecomctl.io import atomic_save_image, atomic_write_json, file_digest, open_image
from ecomctl.render import get_backend
from ecomctl.render.paste import paste_subject, place_subject, premultiplied_cutout
from ecomctl.render.prompt import NEGATIVE, build_prompt
from ecomctl.render.styles import resolve_style
from ecomctl.subject import extract_subject
from ecomctl.text.layout import plan_for_variant
from ecomctl.text.typeset import typeset
from ecomctl.types import ItemResult, Poster, SceneRequest, SkuRow, Style, Subject

WORKER_DEVICE: str | None = None  # set once per worker process by the per-GPU / Ray executors


@dataclass
class RunContext:
    """Everything a worker needs (picklable: sent once to each process)."""

    cfg: Config
    out: Path
    styles: dict[str, Style]
    backend: str
    backend_settings: dict[str, Any] = field(default_factory=dict)
    force: bool = False


def derive_seed(run_seed: int, sku: str, variant: int) -> int:
    """Same run seed + SKU + variant → same seed, whatever order or process renders it."""
    digest = hashlib.blake2b(f"{run_seed}:{sku}:{variant}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


def style_for(row: SkuRow, variant: int, ctx: RunContext) -> Style:
    """The row's style for every variant; without one, variants walk the presets from a SKU-stable start."""
    if row.style:
        return resolve_style(row.style, ctx.styles, row.style)
    names = sorted(ctx.styles)
    start = derive_seed(0, row.sku, 0) % len(names)
    return ctx.styles[names[(start + variant - 1) % len(names)]]


def item_key(row: SkuRow, ctx: RunContext, digest: str) -> str:
    """Resume key: inputs (by content) and every setting that changes pixels."""
    cfg = ctx.cfg
    material = {"v": __version__, "row": row_json(row) | {"where": ""}, "image": digest,
                "backend": ctx.backend, "backend_settings": ctx.backend_settings, "seed": cfg.run.seed,
                "subject": cfg.subject.model_dump(), "text": cfg.text.model_dump(mode="json"),
                "styles": {k: style_json(v) for k, v in sorted(ctx.styles.items())}, "qa": cfg.qa}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _paths(ctx: RunContext, sku: str, variant: int) -> tuple[Path, Path]:
    folder = ctx.out / sku
    return folder / f"{sku}-v{variant}.png", folder / f"{sku}-v{variant}.json"


def _finished(ctx: RunContext, row: SkuRow, key: str) -> list[ItemResult] | None:
    """Results read back from sidecars when every variant exists with the same key; else None."""
    from ecomctl.engine.sidecar import qa_from_json, read_sidecar

    if ctx.force or not ctx.cfg.run.skip_finished:
        return None
    results = []
    for v in range(1, row.variants + 1):
        png, side = _paths(ctx, row.sku, v)
        if not (png.is_file() and side.is_file()):
            return None
        try:
            data = read_sidecar(side)
        except EcomctlError:
            return None
        if data.get("key") != key:
            return None
        qa = qa_from_json(data.get("qa"))
        status = qa.status if qa else "pass"
        subject = data.get("subject", {})
        results.append(ItemResult(row.sku, v, status, png, side, None, qa, 0.0, row.where, resumed=True,
                                  subject_method=subject.get("method"), subject_note=subject.get("note")))
    return results


def _extract(row: SkuRow, ctx: RunContext, digest: str) -> Subject:
    """The extractor chain's result for this photo, once per distinct photo (see subject/cache.py)."""
    from ecomctl.subject.cache import cached_subject, subject_key

    cfg = ctx.cfg.subject
    prompt = row.subject or cfg.default_prompt
    settings = ctx.cfg.section("subject")
    key = subject_key(digest, cfg.method, prompt, settings)

    def compute() -> Subject:
        try:
            source = open_image(row.image)  # upright (EXIF), whole: a corrupt file is this SKU's error only
        except InputImageError as e:
            raise ExtractionError(f"{row.where}: {e}") from None
        return extract_subject(source, prompt, cfg.method, settings)

    return cached_subject(key, ctx.out / ".cache" / "subjects", compute)


def render_sku(row: SkuRow, ctx: RunContext) -> list[ItemResult]:
    """Render every variant of one SKU; any failure becomes error rows, never an exception."""
    t_start = time.perf_counter()
    try:
        digest = file_digest(row.image)
        key = item_key(row, ctx, digest)
        done = _finished(ctx, row, key)
        if done is not None:
            return done
        return _render(row, ctx, key, digest)
    except EcomctlError as e:
        msg = str(e)
    except Exception as e:  # one SKU's bug must not stop the batch
        msg = f"{type(e).__name__}: {e}"
    return [ItemResult(row.sku, None, "error", error=msg.splitlines()[0], where=row.where,
                       seconds=time.perf_counter() - t_start)]


def _render(row: SkuRow, ctx: RunContext, key: str, digest: str) -> list[ItemResult]:
    from ecomctl import qa

    cfg = ctx.cfg
    timings: dict[str, float] = {}
    t = time.perf_counter()
    subject = _extract(row, ctx, digest)
    timings["extract"] = time.perf_counter() - t
    folder = ctx.out / row.sku
    png = {"compress_level": cfg.render.png_compress}
    atomic_save_image(folder / f"{row.sku}.mask.png", Image.fromarray(subject.mask, "L"), **png)
    backend = get_backend(ctx.backend, ctx.backend_settings, WORKER_DEVICE or cfg.render.device)
    requests, layout_s = [], []
    cutout = premultiplied_cutout(subject)  # decoded and converted once, shared by every variant
    for v in range(1, row.variants + 1):
        t = time.perf_counter()
        style = style_for(row, v, ctx)
        layout = plan_for_variant(row, v, (subject.bbox.w, subject.bbox.h), style,
                                  str(cfg.text.font) if cfg.text.font else None, cfg.text.margin,
                                  cfg.text.min_font_size)
        layer = place_subject(subject, layout.subject_box, row.size, cutout)
        seed = derive_seed(row.seed if row.seed is not None else cfg.run.seed, row.sku, v)
        requests.append(SceneRequest(row, v, seed, style, layout, layer, build_prompt(row, style,
                                     cfg.subject.default_prompt), NEGATIVE))
        layout_s.append(time.perf_counter() - t)
    t = time.perf_counter()
    scenes = backend.render(requests)
    scene_s = (time.perf_counter() - t) / len(requests)
    posters, results = [], []
    for req, scene, lay_s in zip(requests, scenes, layout_s):
        if scene.image is None:  # the backend could not make this variant (e.g. out of GPU memory alone)
            results.append(ItemResult(row.sku, req.variant, "error", error=scene.error or "no scene",
                                      where=row.where, seconds=scene_s))
            continue
        tm = dict(timings, layout=lay_s, scene=scene_s)
        poster = _finish(req, scene.image, subject, backend.describe() | dict(scene.meta), tm, ctx)
        posters.append(poster)
    verdicts = [qa.check_poster(p, cfg) for p in posters]
    verdicts = qa.check_variants(posters, verdicts, cfg)
    for poster, verdict in zip(posters, verdicts):
        results.append(_write(poster, verdict, subject, key, digest, ctx))
    return results


def _finish(req: SceneRequest, scene: Image.Image, subject: Subject, backend_meta: dict[str, Any],
            timings: dict[str, float], ctx: RunContext) -> Poster:
    t = time.perf_counter()
    composed = paste_subject(scene, req.subject_layer)
    timings["paste"] = time.perf_counter() - t
    t = time.perf_counter()
    image, layout = typeset(composed, req.layout, req.style, ctx.cfg.text.min_contrast, req.subject_mask)
    timings["typeset"] = time.perf_counter() - t
    meta = {"backend": backend_meta, "timings": timings,
            "subject": {"method": subject.method, "note": subject.note, "bbox": subject.bbox.as_list(),
                        "confidence": subject.confidence, "confidence_why": subject.confidence_why}}
    return Poster(req.row, req.variant, req.seed, image, scene.convert("RGB"), req.subject_mask.copy(),
                  req.subject_layer, layout, req.style, meta)


def _write(poster: Poster, verdict: Any, subject: Subject, key: str, digest: str,
           ctx: RunContext) -> ItemResult:
    row, v = poster.row, poster.variant
    png, side = _paths(ctx, row.sku, v)
    folder = png.parent
    files = {"mask": f"{row.sku}.mask.png", "subject": f"{row.sku}-v{v}.subject.png"}
    t = time.perf_counter()
    png_params = {"compress_level": ctx.cfg.render.png_compress}
    atomic_save_image(folder / files["subject"], Image.fromarray(np.asarray(poster.subject_mask), "L"), **png_params)
    if ctx.cfg.run.keep_layers and poster.background is not None:
        files["background"] = f"{row.sku}-v{v}.bg.png"
        atomic_save_image(folder / files["background"], poster.background, **png_params)
    timings = dict(poster.meta["timings"])
    qa_seconds = verdict.details.get("seconds", {}) if verdict else {}
    timings["qa"] = float(sum(qa_seconds.values()) if isinstance(qa_seconds, dict) else qa_seconds)
    timings["total"] = sum(timings.values())
    sidecar = {
        "schema": SCHEMA, "sku": row.sku, "variant": v, "seed": poster.seed, "image": png.name, "key": key,
        "inputs": row_json(row) | {"manifest": row.where.rsplit(":", 1)[0], "image_sha256": digest},
        "backend": poster.meta["backend"], "subject": dict(poster.meta["subject"],
                                                           mask=files["mask"],
                                                           box=poster.layout.subject_box.as_list()),
        "style": style_json(poster.style), "template": poster.layout.template,
        "layout": layout_json(poster.layout), "timings": timings, "qa": qa_json(verdict), "files": files,
    }
    atomic_save_image(png, poster.image, optimize=False, **png_params)
    timings["write"] = time.perf_counter() - t  # written into the sidecar: the sidecar's own write is not in it
    timings["total"] = sum(s for k, s in timings.items() if k != "total")
    sidecar["timings"] = timings
    atomic_write_json(side, sidecar)  # sidecar last: its presence marks the poster finished
    status = verdict.status if verdict else "pass"
    return ItemResult(row.sku, v, status, png, side, None, verdict, timings["total"], row.where,
                      subject_method=subject.method, subject_note=subject.note)
