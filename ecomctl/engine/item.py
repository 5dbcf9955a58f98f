"""One SKU through every stage: extract → layout → scene → paste → typeset → QA → write (errors captured)."""

from __future__ import annotations

import functools
import hashlib
import json
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PIL import Image

from ecomctl import __version__
from ecomctl.config import Config
from ecomctl.errors import EcomctlError, ExtractionError, InputImageError
from ecomctl.io import open_image
from ecomctl.render import get_backend, resolved_settings
from ecomctl.render.paste import paste_subject, place_subject, premultiplied_cutout
from ecomctl.render.prompt import NEGATIVE, build_prompt
from ecomctl.render.styles import preset_walk, resolve_style
from ecomctl.store import OutputStore, PosterFiles
from ecomctl.store.files import cached_digest, fault_of, stat_key
from ecomctl.store.posters import (
    check_poster_file,
    logo_name,
    refresh_sidecar,
    write_poster,
    write_source_mask,
)
from ecomctl.store.sidecar import (
    SidecarError,
    layout_json,
    qa_from_json,
    qa_json,
    read_sidecar,
    row_json,
    style_json,
)
from ecomctl.subject import extract_subject
from ecomctl.text.layout import plan_for_variant
from ecomctl.text.logo import load_logo, logo_layer
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
    verify: bool = False  # hash every finished poster instead of trusting its recorded stat (--verify)
    replan: bool = False  # a finished poster's layout is planned again with this code; a different one renders (--replan)

    @property
    def store(self) -> OutputStore:
        return OutputStore(self.out)

    @functools.cached_property
    def settings_digest(self) -> str:
        """The run-wide part of every render key (code version, backend and its settings, run seed,
        extraction and text settings), hashed once per process instead of once per SKU."""
        cfg = self.cfg
        material = {"v": __version__, "backend": self.backend, "backend_settings": self.backend_settings,
                    "seed": cfg.run.seed, "subject": cfg.subject.model_dump(), "text": cfg.text.model_dump(mode="json")}
        resolved = resolved_settings(self.backend, self.backend_settings)
        if resolved is not None:  # diffusion backends: their defaults count too (compose keys stay as they were)
            material["backend_resolved"] = resolved
        return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()

    @functools.cached_property
    def grading_key(self) -> str:
        """qa.grading_key of the run's settings, once per process."""
        from ecomctl.qa import grading_key

        return grading_key(self.cfg)

    @functools.cached_property
    def measure_key(self) -> str:
        """qa.measure_key of the run's settings, once per process."""
        from ecomctl.qa import measure_key

        return measure_key(self.cfg)

    def style_json(self, style: Style) -> dict[str, Any]:
        """style_json of a style, remembered per style (a preset is used by thousands of SKUs)."""
        cache = self.__dict__.setdefault("_style_json", {})
        found = cache.get(style)
        if found is None:
            found = cache[style] = style_json(style)
        return found


def derive_seed(run_seed: int, sku: str, variant: int) -> int:
    """Same run seed + SKU + variant → same seed, whatever order or process renders it."""
    digest = hashlib.blake2b(f"{run_seed}:{sku}:{variant}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


def style_for(row: SkuRow, variant: int, ctx: RunContext) -> Style:
    """The row's style for every variant; without one, the SKU's preset walk (render/styles.preset_walk:
    its rendezvous order of the presets, each variant's palette apart from the earlier ones'), so a new
    preset re-renders only the SKUs that take it."""
    if row.style:
        return resolve_style(row.style, ctx.styles, row.style)
    walks = ctx.__dict__.setdefault("_walks", {})  # the render key and each variant ask again: walk once
    key = (row.sku, max(variant, row.variants))
    if key not in walks:
        if len(walks) >= 256:  # bounded: a worker sees each SKU once, a run 50,000 of them
            walks.clear()
        walks[key] = preset_walk(row.sku, ctx.styles, key[1], ctx.cfg.render.variant_delta_e)
    return walks[key][variant - 1]


def item_key(row: SkuRow, ctx: RunContext, digest: str, logo: str | None = None,
             style_image: str | None = None) -> str:
    """Render key: what changes the poster's pixels — inputs (by content), backend and its settings, seed,
    extraction and text settings, and of the styles only the presets this SKU's variants use (editing a
    preset no SKU uses re-renders nothing). QA settings are not in it: they have their own key
    (`qa.grading_key`), and a change there re-grades the stored poster instead of rendering it again.
    `logo`: the logo file's sha256 when known (logo_digest), else it is read here; `style_image` likewise the
    reference-image style's (style_digest).

    Inputs are keyed by content, never by location: the photo's path (or URL) and the logo's are not in it
    (their sha256 are), and a reference style keeps only its file name (the style's name, `ref:<name>`), so the
    same catalog checked out, copied or mounted elsewhere re-renders nothing. `legacy_item_key` is the key
    as it was with the paths in it: a sidecar stamped with that is re-stamped, not re-rendered."""
    return _key(row, ctx, digest, logo, legacy=False, style_image=style_image)


def legacy_item_key(row: SkuRow, ctx: RunContext, digest: str, logo: str | None = None,
                    at: dict[str, Any] | None = None, style_image: str | None = None) -> str:
    """The render key as ecomctl made it before keys lost their paths: the row's absolute photo, logo and
    reference-style paths (and a photo's URL) in it. Only read, to keep OUTs written that way (resume_state
    re-stamps them). `at`: a sidecar's `inputs`, whose recorded paths stand in for the row's (the catalog
    moved in the same upgrade); everything else is still the row's."""
    return _key(row, ctx, digest, logo, legacy=True, at=at, style_image=style_image)


def _key(row: SkuRow, ctx: RunContext, digest: str, logo: str | None, legacy: bool,
         at: dict[str, Any] | None = None, style_image: str | None = None) -> str:
    used = [ctx.style_json(style_for(row, v, ctx)) for v in range(1, row.variants + 1)]
    fields = row_json(row) | {"where": ""}
    style_image = style_image or style_digest(row, None)
    if legacy and at:  # where the poster was rendered from, as its sidecar recorded it
        fields |= {k: at[k] for k in ("image", "url", "logo", "style") if k in fields and isinstance(at.get(k), str)}
        if style_image is not None:  # a reference style's Style.reference is the row's style path
            used = [s | {"reference": fields["style"]} if s.get("reference") else s for s in used]
    if not legacy:  # locations out: their content is keyed below (image, logo, style_image)
        for name in ("image", "url", "logo"):
            fields.pop(name, None)
        if style_image is not None:
            fields["style"] = Path(fields["style"]).name
        used = [s | {"reference": Path(s["reference"]).name} if s.get("reference") else s for s in used]
    material = {"run": ctx.settings_digest, "row": fields, "image": digest, "styles": used,
                "style_image": style_image}
    if row.logo is not None:  # keyed by content: a new logo under the same name re-renders (rows without keep their key)
        material["logo"] = logo or cached_digest(row.logo)
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _style_image(row: SkuRow) -> Path | None:
    """The row's reference-image style (`ref:<name>` in the key: a style that is an image file, or a campaign's
    reference), None for a preset."""
    if row.style and Path(row.style).suffix and Path(row.style).is_file():
        return Path(row.style)
    return None


def style_digest(row: SkuRow, recorded: dict[str, Any] | None) -> str | None:
    """A reference-image style is keyed by content (a new reference re-renders): its sha256, trusted from the
    sidecar by stat as the photo's is (None for a preset)."""
    path = _style_image(row)
    return None if path is None else _trusted_digest(path, "style", recorded)


@dataclass
class Resume:
    """What an earlier run left for one SKU, judged against this run's settings.

    `done`: every variant is finished with the same render key and QA key (results read back from the
    sidecars). `regrade`: every variant's pixels are current but QA settings or code changed: the sidecars
    to re-grade (`rejudge`: only re-judgeable limits changed, every sidecar's qa_measure_key matches: its
    stored measurements are judged again, qa/rejudge.py). Neither: the SKU renders."""

    key: str
    digest: str
    done: list[ItemResult] | None = None
    regrade: list[Path] | None = None
    rejudge: bool = False
    sidecars: list[dict[str, Any]] | None = None  # as read (fast path), when done or regrade: what --replan compares


def photo_digest(row: SkuRow, recorded: dict[str, Any] | None) -> str:
    """The source photo's sha256: the one a sidecar recorded while the photo's path and stat (size,
    mtime_ns) are what it recorded, else read and hashed (once per process per stat, see cached_digest)."""
    return _trusted_digest(row.image, "image", recorded)


def logo_digest(row: SkuRow, recorded: dict[str, Any] | None) -> str | None:
    """The logo file's sha256 (None without a logo), trusted from the sidecar by stat as the photo's is."""
    return None if row.logo is None else _trusted_digest(row.logo, "logo", recorded)


def _trusted_digest(path: Path, name: str, recorded: dict[str, Any] | None) -> str:
    """sha256 of an input file: `inputs.<name>_sha256` of a sidecar while `inputs.<name>` is this path and
    `inputs.<name>_stat` its stat, else read and hashed (once per process per stat, see cached_digest)."""
    inputs = (recorded or {}).get("inputs")
    inputs = inputs if isinstance(inputs, dict) else {}
    if inputs.get(name) == str(path) and isinstance(inputs.get(f"{name}_sha256"), str):
        try:
            if inputs.get(f"{name}_stat") == stat_key(path):
                return inputs[f"{name}_sha256"]
        except OSError:
            pass
    return cached_digest(path)


def resume_state(row: SkuRow, ctx: RunContext) -> Resume:
    """Read the SKU's sidecars once and decide: done, re-grade or render. A poster is trusted by its stat
    (size, mtime_ns, inode as written), hashed only when that differs or with `ctx.verify`. Sidecars are
    read on the fast path (fields not validated): anything missing or mistyped means "render again"."""
    if ctx.force or not ctx.cfg.run.skip_finished:
        digest = cached_digest(row.image)
        return Resume(item_key(row, ctx, digest), digest)
    store = ctx.store
    posters = [store.poster(row.sku, v) for v in range(1, row.variants + 1)]
    sidecars: list[dict[str, Any] | None] = []
    for files in posters:
        try:
            sidecars.append(read_sidecar(files.sidecar, check=False))
        except SidecarError:
            sidecars.append(None)
    digest = photo_digest(row, sidecars[0])
    logo = logo_digest(row, sidecars[0])
    style_image = style_digest(row, sidecars[0])
    key = item_key(row, ctx, digest, logo, style_image=style_image)
    state = Resume(key, digest)
    if any(d is None for d in sidecars):
        return state
    if any(d.get("key") != key for d in sidecars):  # stamped before the key lost its paths: same pixels
        at = sidecars[0].get("inputs")
        legacy = {key, legacy_item_key(row, ctx, digest, logo, style_image=style_image),
                  legacy_item_key(row, ctx, digest, logo, at if isinstance(at, dict) else None, style_image)}
        if any(d.get("key") not in legacy for d in sidecars):
            return state
    try:
        stale: set[int] = set()  # sidecars whose recorded stat data changed: each written once, below
        for i, (files, data) in enumerate(zip(posters, sidecars)):
            intact, refreshed = check_poster_file(files, data, ctx.verify)
            if not intact:
                return state
            if refreshed or data["key"] != key:
                data["key"] = key  # a legacy key re-stamped with this one, in the same write
                stale.add(i)
        _refresh_input_stats(row, sidecars, digest, stale, logo, style_image)
        for i in sorted(stale):
            if not refresh_sidecar(posters[i].sidecar, sidecars[i]):
                break
        state.sidecars = sidecars  # (a poster on a --replan night is compared with its stored layout)
        if any(d.get("qa_key") != ctx.grading_key for d in sidecars):
            state.regrade = [f.sidecar for f in posters]
            state.rejudge = all(d.get("qa_measure_key") == ctx.measure_key for d in sidecars)
            return state
        state.done = [_stored_result(row, f, d) for f, d in zip(posters, sidecars)]
    except (KeyError, TypeError, ValueError, AttributeError):  # a sidecar with a field gone or mistyped
        state.regrade = state.done = state.sidecars = None
    return state


def _refresh_input_stats(row: SkuRow, sidecars: list[Any], digest: str, stale: set[int],
                         logo_sha: str | None = None, style_image: str | None = None) -> None:
    """A photo whose stat changed but whose bytes did not (touched, copied, or the catalog moved): record its
    new stat — and its path, where it moved — in the sidecars (in memory; the indexes of those that changed
    join `stale`, which the caller writes once with the poster's own refreshed stat), so the next night
    trusts it again instead of hashing it. The logo likewise (`logo_sha`: the digest the key was made with).
    A reference-image style too: its sha256 (`style_image`, the one the matching key was made with) and
    stat, also into a sidecar written before styles had them."""
    try:
        now = {"image": str(row.image), "image_stat": stat_key(row.image)}
    except OSError:
        return
    logo = {}
    if row.logo is not None:
        try:
            logo = {"logo": str(row.logo), "logo_stat": stat_key(row.logo)}
        except OSError:
            logo = {}
    style = _style_inputs(row, style_image)
    for i, data in enumerate(sidecars):
        inputs = data["inputs"]
        fresh = dict(now) if inputs.get("image_sha256") == digest else {}
        if logo and inputs.get("logo_sha256") == logo_sha:
            fresh |= logo
        fresh |= style
        if any(inputs.get(k) != v for k, v in fresh.items()):
            data["inputs"] = {**inputs, **fresh}
            stale.add(i)


def _stored_result(row: SkuRow, files: PosterFiles, data: dict[str, Any]) -> ItemResult:
    qa = qa_from_json(data.get("qa"))
    subject = data.get("subject", {})
    return ItemResult(sku=row.sku, variant=files.variant, status=qa.status if qa else "pass", image=files.image,
                      sidecar=files.sidecar, qa=qa, where=row.where, resumed=True,
                      subject_method=subject.get("method"), subject_note=subject.get("note"),
                      campaign=data["inputs"].get("campaign") or None)


def _extract(row: SkuRow, ctx: RunContext, digest: str) -> Subject:
    """The extractor chain's result for this photo, once per distinct photo (see subject/cache.py)."""
    from ecomctl.subject.cache import cached_subject, subject_key

    cfg = ctx.cfg.subject
    prompt = row.subject or cfg.default_prompt
    settings = ctx.cfg.section("subject")
    key = subject_key(digest, cfg.method, prompt, settings)  # thread counts change no mask: not in the key

    def compute() -> Subject:
        try:
            source = open_image(row.image)  # upright (EXIF), whole: a corrupt file is this SKU's error only
        except InputImageError as e:
            raise ExtractionError(f"{row.where}: {e}") from None
        return extract_subject(source, prompt, cfg.method, _with_thread_share(settings, ctx.cfg))

    return cached_subject(key, ctx.store.subject_cache, compute)


def _with_thread_share(settings: dict[str, Any], cfg: Config) -> dict[str, Any]:
    """With several worker processes, the saliency model's onnxruntime gets each worker's share of the
    cores unless `subject.saliency.threads` is set (as OCR does: workers × threads = cores)."""
    saliency = settings.get("saliency")
    share = cfg.run.thread_share()
    if not share or (isinstance(saliency, dict) and saliency.get("threads")):
        return settings
    return settings | {"saliency": {**(saliency if isinstance(saliency, dict) else {}), "threads": share}}


def render_sku(row: SkuRow, ctx: RunContext) -> list[ItemResult]:
    """Render every variant of one SKU; any failure becomes error rows, never an exception."""
    t_start = time.perf_counter()
    try:
        state = resume_state(row, ctx)
        if ctx.replan and state.sidecars is not None:
            return _replanned(row, ctx, state)
        if state.done is not None:
            return state.done
        if state.regrade is not None:
            return _regrade(row, ctx, state.regrade, state.rejudge)
        return _render(row, ctx, state.key, state.digest)
    except EcomctlError as e:
        msg, exc = str(e), e
    except Exception as e:  # noqa: BLE001 — one SKU's bug must not stop the batch
        msg, exc = f"{type(e).__name__}: {e}", e
    fault = fault_of(exc)
    if fault is not None:  # the disk, not this SKU: no log (it would not fit either); the runner stops
        return [ItemResult(sku=row.sku, variant=None, status="error", error=fault, fault=fault,
                           where=row.where, seconds=time.perf_counter() - t_start)]
    log = _log_error(row, ctx, exc)
    return [ItemResult(sku=row.sku, variant=None, status="error", error=(msg.splitlines() or [""])[0],
                       where=row.where, seconds=time.perf_counter() - t_start, log=log)]


def _replanned(row: SkuRow, ctx: RunContext, state: Resume) -> list[ItemResult]:
    """--replan: a SKU whose render key is unchanged has each variant's layout planned again with this
    code; all equal to what its sidecars recorded → kept (or re-graded) as without --replan, any different →
    the SKU renders again (all its variants: they are graded together), marked `layout_changed`."""
    assert state.sidecars is not None
    if layout_changed(row, ctx, state.sidecars):
        return [replace(r, replanned=True, layout_changed=True)
                for r in _render(row, ctx, state.key, state.digest)]
    kept = state.done if state.done is not None else _regrade(row, ctx, state.regrade or [], state.rejudge)
    return [replace(r, replanned=True) for r in kept]


def layout_changed(row: SkuRow, ctx: RunContext, sidecars: list[dict[str, Any]]) -> bool:
    """Whether this code plans any variant of the SKU differently from the layout its sidecar recorded. The
    plan needs only the subject's size (the sidecar's `subject.bbox`: the extraction the poster was made
    with; its photo and extraction settings are in the render key), the style and the logo's size: no
    extraction, scene or OCR. A sidecar without what is compared counts as changed (it renders)."""
    cfg = ctx.cfg
    logo = load_logo(row.logo, row.where) if row.logo is not None else None
    for v, data in enumerate(sidecars, start=1):
        try:
            x0, y0, x1, y1 = data["subject"]["bbox"]
            stored = plan_json(data["layout"])
        except (KeyError, TypeError, ValueError, AttributeError):
            return True
        plan = plan_for_variant(row, v, (x1 - x0, y1 - y0), style_for(row, v, ctx),
                                str(cfg.text.font) if cfg.text.font else None, cfg.text.margin,
                                cfg.text.min_font_size, logo.size if logo is not None else None)
        if plan_json(layout_json(plan, "")) != stored:
            return True
    return False


def plan_json(layout: dict[str, Any]) -> dict[str, Any]:
    """The part of a sidecar's layout the planner decides: template, canvas, subject box, font, every line's
    role/text/box/size/weight/block, the planned plates (role, box, kind), the logo box and what was dropped.
    Not what typesetting chose against the scene: colours, the bands under text or a logo (kind "band")."""
    lines = [[t["role"], t["text"], list(t["box"]), t["font_size"], t["weight"], t.get("block", 0)]
             for t in layout["lines"]]
    plates = [[p["role"], list(p["box"]), p["kind"]] for p in layout.get("plates", []) if p["kind"] != "band"]
    logo = layout.get("logo")
    return {"canvas": list(layout["canvas"]), "template": layout["template"],
            "subject_box": list(layout["subject_box"]), "font": layout.get("font", ""), "lines": lines,
            "plates": plates, "logo": list(logo["box"]) if logo else None, "dropped": list(layout.get("dropped", []))}


def _log_error(row: SkuRow, ctx: RunContext, exc: BaseException) -> Path | None:
    """The exception's full traceback in OUT/logs/<sku>.log (None when it cannot be written)."""
    text = f"{row.sku} ({row.where})\n" + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return _write_log(ctx, row.sku, text)


def lost_row(row: SkuRow, ctx: RunContext, executor: str, message: str, story: str = "") -> ItemResult:
    """The error row of a SKU whose worker, actor or node was lost, or that timed out: there is no traceback
    to keep, so the story (which executor, each try) goes to OUT/logs/<sku>.log instead."""
    log = _write_log(ctx, row.sku, f"{row.sku} ({row.where})\nexecutor: {executor}\n{message}\n{story}".rstrip())
    return ItemResult(sku=row.sku, variant=None, status="error", error=message, where=row.where, log=log)


def _write_log(ctx: RunContext, sku: str, text: str) -> Path | None:
    try:
        return ctx.store.write_log(sku, text)
    except OSError:  # a full disk: the row still says what happened
        return None


def _regrade(row: SkuRow, ctx: RunContext, sidecars: list[Path], rejudge: bool = False) -> list[ItemResult]:
    """Only QA settings or code changed: grade the stored posters again from their layers, exactly as
    `ecomctl qa` does, and rewrite their sidecars' verdicts; no poster file is written. `rejudge`: only
    re-judgeable limits changed: the stored measurements are judged again (no image, no OCR) unless a
    sidecar lacks them."""
    from ecomctl import qa
    from ecomctl.qa.recheck import regrade_sku

    if rejudge:
        from ecomctl.qa.rejudge import rejudge_sku

        judged = rejudge_sku(ctx.store, sidecars, ctx.cfg, ctx.grading_key, ctx.measure_key)
        if judged is not None:
            return [replace(r, where=row.where, regraded=True, rejudged=True) for r in judged]
    qa.process_ocr(ctx.cfg)
    from ecomctl.engine import campaigns  # (it imports this module)

    results = regrade_sku(ctx.store, sidecars, ctx.cfg, ctx.grading_key,
                          also=lambda p, v: campaigns.with_check(p, v, ctx.store, ctx.cfg), measure=ctx.measure_key)
    if any(r.status == "error" for r in results):  # a layer that cannot be read back: make the poster again
        digest = cached_digest(row.image)
        return _render(row, ctx, item_key(row, ctx, digest), digest)
    return [replace(r, where=row.where, regraded=True) for r in results]


def _render(row: SkuRow, ctx: RunContext, key: str, digest: str) -> list[ItemResult]:
    from ecomctl import qa

    cfg = ctx.cfg
    qa.process_ocr(cfg)  # this process's one OCR engine, configured before any stage asks for one
    timings: dict[str, float] = {}
    t = time.perf_counter()
    subject = _extract(row, ctx, digest)
    timings["extract"] = time.perf_counter() - t
    png = {"compress_level": cfg.render.png_compress}
    write_source_mask(ctx.store, row.sku, subject.mask, **png)
    backend = get_backend(ctx.backend, ctx.backend_settings, WORKER_DEVICE or cfg.render.device)
    requests, layout_s = [], []
    cutout = premultiplied_cutout(subject)  # decoded and converted once, shared by every variant
    logo = load_logo(row.logo, row.where) if row.logo is not None else None  # a bad logo: this SKU's error
    for v in range(1, row.variants + 1):
        t = time.perf_counter()
        style = style_for(row, v, ctx)
        layout = plan_for_variant(row, v, (subject.bbox.w, subject.bbox.h), style,
                                  str(cfg.text.font) if cfg.text.font else None, cfg.text.margin,
                                  cfg.text.min_font_size, logo.size if logo is not None else None)
        layer = place_subject(subject, layout.subject_box, row.size, cutout)
        seed = derive_seed(row.seed if row.seed is not None else cfg.run.seed, row.sku, v)
        requests.append(SceneRequest(row=row, variant=v, seed=seed, style=style, layout=layout,
                                     subject_layer=layer, negative_prompt=NEGATIVE,
                                     prompt=build_prompt(row, style, cfg.subject.default_prompt,
                                                         empty_scene=getattr(backend, "EMPTY_SCENE", False))))
        layout_s.append(time.perf_counter() - t)
    t = time.perf_counter()
    scenes = backend.render(requests)
    scene_s = (time.perf_counter() - t) / len(requests)
    posters, results = [], []
    for req, scene, lay_s in zip(requests, scenes, layout_s):
        if scene.image is None:  # the backend could not make this variant (e.g. out of GPU memory alone)
            results.append(ItemResult(sku=row.sku, variant=req.variant, status="error",
                                      error=scene.error or "no scene", where=row.where, seconds=scene_s))
            continue
        tm = dict(timings, layout=lay_s, scene=scene_s)
        poster = _finish(req, scene.image, subject, backend.describe() | dict(scene.meta), tm, ctx, logo)
        posters.append(poster)
    verdicts = [qa.check_poster(p, cfg) for p in posters]
    verdicts = qa.check_variants(posters, verdicts, cfg)
    from ecomctl.engine import campaigns  # (it imports this module)

    verdicts = [campaigns.with_check(p, v, ctx.store, cfg) for p, v in zip(posters, verdicts)]
    for poster, verdict in zip(posters, verdicts):
        results.append(_write(poster, verdict, subject, key, digest, ctx))
    ctx.store.clear_log(row.sku)
    return results


def _photo_stat(row: SkuRow, digest: str) -> list[int] | None:
    """The photo's [size, mtime_ns] when its bytes are still those rendered (else None: never trusted)."""
    return _stat_if(row.image, digest)


def _style_stat_digest(row: SkuRow) -> str | None:
    """The reference style's sha256 at its stat now (cached per stat in this process; the key's when the
    file did not change since)."""
    path = _style_image(row)
    try:
        return None if path is None else cached_digest(path)
    except OSError:
        return None


def _stat_if(path: Path, digest: str | None) -> list[int] | None:
    try:
        return stat_key(path) if digest is not None and cached_digest(path) == digest else None
    except OSError:
        return None


def _style_inputs(row: SkuRow, digest: str | None, written: bool = False) -> dict[str, Any]:
    """A reference-image style's path, sha256 and stat for the sidecar's inputs, so the next night trusts it
    by stat (nothing for a preset: those sidecars stay as they were). `digest`: the one the key was made with;
    `written`: a poster's first sidecar, whose stat is recorded only while the bytes are still those
    (a resumed poster's key just matched the file at its stat)."""
    path = _style_image(row)
    if path is None or digest is None:
        return {}
    try:
        stat = _stat_if(path, digest) if written else stat_key(path)
    except OSError:
        return {}
    return {"style": row.style, "style_sha256": digest, "style_stat": stat} if stat else {}


def _logo_inputs(row: SkuRow) -> dict[str, Any]:
    """The logo's sha256 and stat for the sidecar's inputs (nothing without a logo: old sidecars stay as
    they were). The digest is the one the render key was made with (cached per stat in this process)."""
    if row.logo is None:
        return {}
    try:
        digest = cached_digest(row.logo)
    except OSError:
        return {"logo_sha256": None, "logo_stat": None}
    return {"logo_sha256": digest, "logo_stat": _stat_if(row.logo, digest)}


def _finish(req: SceneRequest, scene: Image.Image, subject: Subject, backend_meta: dict[str, Any],
            timings: dict[str, float], ctx: RunContext, logo: Image.Image | None = None) -> Poster:
    t = time.perf_counter()
    composed = paste_subject(scene, req.subject_layer)
    timings["paste"] = time.perf_counter() - t
    t = time.perf_counter()
    layer = logo_layer(logo, req.layout.logo) if logo is not None and req.layout.logo is not None else None
    image, layout = typeset(composed, req.layout, req.style, ctx.cfg.text.min_contrast, req.subject_mask, layer)
    timings["typeset"] = time.perf_counter() - t
    meta = {"backend": backend_meta, "timings": timings,
            "subject": {"method": subject.method, "note": subject.note, "bbox": subject.bbox.as_list(),
                        "confidence": subject.confidence, "confidence_why": subject.confidence_why}}
    return Poster(row=req.row, variant=req.variant, seed=req.seed, image=image, background=scene.convert("RGB"),
                  subject_mask=req.subject_mask.copy(), subject_layer=req.subject_layer, layout=layout,
                  style=req.style, meta=meta, logo=layer)


def _write(poster: Poster, verdict: Any, subject: Subject, key: str, digest: str,
           ctx: RunContext) -> ItemResult:
    row, v = poster.row, poster.variant
    timings = dict(poster.meta["timings"])
    qa_seconds = verdict.details.get("seconds", {}) if verdict else {}
    timings["qa"] = float(sum(qa_seconds.values()) if isinstance(qa_seconds, dict) else qa_seconds)
    sidecar = {
        "seed": poster.seed, "key": key,
        "inputs": row_json(row) | {"manifest": row.where.rsplit(":", 1)[0], "image_sha256": digest,
                                   "image_stat": _photo_stat(row, digest)} | _logo_inputs(row)
                  | _style_inputs(row, _style_stat_digest(row), written=True),
        "backend": poster.meta["backend"],
        "subject": dict(poster.meta["subject"], box=poster.layout.subject_box.as_list()),
        "style": style_json(poster.style), "template": poster.layout.template,
        "layout": layout_json(poster.layout, logo_name(ctx.store, poster)), "timings": timings, "qa": qa_json(verdict),
        "qa_key": ctx.grading_key, "qa_measure_key": ctx.measure_key,
    }
    from ecomctl.qa.thresholds import thresholds

    report = thresholds(ctx.cfg).report  # the report's thumbnail is made here, from the poster in memory
    files = write_poster(ctx.store, poster, sidecar, keep_background=ctx.cfg.run.keep_layers,
                         compress_level=ctx.cfg.render.png_compress, thumb=(report.thumb_px, report.thumb_quality))
    timings = sidecar["timings"]
    status = verdict.status if verdict else "pass"
    from ecomctl.qa.style import CHECK

    scored = verdict is not None and any(c.name == CHECK for c in verdict.checks)  # its campaign's check
    return ItemResult(sku=row.sku, variant=v, status=status, image=files.image, sidecar=files.sidecar, qa=verdict,
                      seconds=timings["total"], where=row.where, subject_method=subject.method,
                      subject_note=subject.note, campaign=row.campaign if scored else None)
