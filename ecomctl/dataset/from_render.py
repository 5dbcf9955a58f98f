"""Source 1 — an ecomctl render output folder: every condition is known exactly from the sidecars."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecomctl.dataset.from_posters import safe_id
from ecomctl.dataset.items import Conditions, SourceItem
from ecomctl.dataset.prompts import render_prompt
from ecomctl.dataset.settings import DatasetSettings
from ecomctl.imaging import boxes_mask, grow_mask, inpaint
from ecomctl.store import OutputStore
from ecomctl.store.posters import full_background, load_poster


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
    else:  # rendered without --keep-layers: remove text, plates and product from the poster instead
        layout = poster.layout
        hole = boxes_mask(poster.image.size, [ln.box for ln in layout.lines] + [p.box for p in layout.plates])
        style = inpaint(poster.image, np.maximum(hole, grow_mask(mask, 7)), s.inpaint, s.inpaint_radius)
        style_from = "inpaint"
        notes.append("no background layer (render without --keep-layers): style image inpainted")
    row = poster.row
    prompt = render_prompt(row.prompt, poster.style.name, poster.style.prompt, row.subject or s.subject_prompt)
    method = str(poster.meta.get("subject", {}).get("method", "unknown"))
    return Conditions(poster=poster.image.convert("RGB"), subject_mask=mask, style=style, layout=poster.layout,
                      prompt=prompt, style_from=style_from, subject_method=method, notes=tuple(notes))
