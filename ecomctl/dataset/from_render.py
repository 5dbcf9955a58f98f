"""Source 1 — an ecomctl render output folder: every condition is known exactly from the sidecars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ecomctl.dataset.corpus import LAYOUT_METRICS
from ecomctl.dataset.from_posters import safe_id
from ecomctl.dataset.items import Conditions, SourceItem
from ecomctl.dataset.prompts import render_prompt
from ecomctl.dataset.settings import DatasetSettings
from ecomctl.imaging import boxes_mask, grow_mask, inpaint
from ecomctl.store import OutputStore
from ecomctl.store.posters import full_background, load_poster
from ecomctl.text.typeset import strike_box
from ecomctl.types import Box, Layout


def discover_renders(root: Path) -> list[SourceItem]:
    """One item per poster sidecar `OUT/<sku>/<sku>-v<k>.json`, in SKU then variant order (an unreadable
    sidecar is still an item: processing it records the error that names the file and field)."""
    store = OutputStore(root)
    items = []
    for path in store.sidecars():
        files = store.of_sidecar(path)
        items.append(SourceItem(id=safe_id(f"{files.sku}-v{files.variant}"), kind="render", path=path,
                                sku=files.sku, group=files.sku))
    return sorted(items, key=lambda i: (i.sku, i.id))


def render_conditions(item: SourceItem, s: DatasetSettings) -> Conditions:
    """Poster, intended product mask, background layer (the style image) and layout, as rendered."""
    poster = load_poster(item.path)
    mask = np.asarray(poster.subject_mask, np.uint8)
    notes: list[str] = []
    background = full_background(item.path)
    if background is not None:
        style, style_from = background, "layer"
    else:  # rendered without --keep-layers: remove text, plates, logo and product from the poster instead
        hole = boxes_mask(poster.image.size, drawn_boxes(poster.layout))
        style = inpaint(poster.image, np.maximum(hole, grow_mask(mask, 7)), s.inpaint, s.inpaint_radius)
        style_from = "inpaint"
        notes.append("no background layer (render without --keep-layers): style image inpainted")
    row = poster.row
    prompt = render_prompt(row.prompt, poster.style.name, poster.style.prompt, row.subject or s.subject_prompt)
    method = str(poster.meta.get("subject", {}).get("method", "unknown"))
    qa = poster.meta.get("qa") or {}
    return Conditions(poster=poster.image.convert("RGB"), subject_mask=mask, style=style, layout=poster.layout,
                      prompt=prompt, style_from=style_from, subject_method=method, notes=tuple(notes),
                      logo=poster.logo if poster.layout.logo is not None else None,
                      qa_status=qa.get("status"), qa_flags=qa_flags(qa), layout_metrics=layout_metrics(qa))


def drawn_boxes(layout: Layout) -> list[Box]:
    """Every box the typesetter drew on the scene: text lines, plates (bullets included), the strike through a
    list price (it reaches past the price's ink), the logo (a logo on a light scene has no plate under it)."""
    boxes = [ln.box for ln in layout.lines] + [p.box for p in layout.plates]
    boxes += [strike_box(ln) for ln in layout.lines if ln.role == "list_price"]
    return boxes + ([layout.logo] if layout.logo is not None else [])


def qa_flags(qa: dict[str, Any]) -> tuple[str, ...]:
    """'check: status' of every QA check of the sidecar's verdict that warned or failed."""
    return tuple(f"{c['name']}: {c['status']}" for c in qa.get("checks") or ()
                 if c.get("status") in ("warn", "fail"))


def layout_metrics(qa: dict[str, Any]) -> dict[str, float | None] | None:
    """The layout metrics QA measured on the poster (`layout.val` … `layout.rea`); None when it measured none."""
    values = {c["name"].removeprefix("layout."): c.get("value") for c in qa.get("checks") or ()
              if c.get("name", "").removeprefix("layout.") in LAYOUT_METRICS and c["name"].startswith("layout.")}
    if not values:
        return None
    return {k: (None if values.get(k) is None else float(values[k])) for k in LAYOUT_METRICS}
