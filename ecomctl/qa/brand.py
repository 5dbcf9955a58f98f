"""QA checks of what a brand's poster carries beyond its copy: the logo is drawn where the layout says (not
covered, not missing), and copy the canvas could not hold is named (a warning, never silent)."""

from __future__ import annotations

import numpy as np

from ecomctl.qa.registry import Sample, judge, status
from ecomctl.types import Check, Poster

SOLID = 250  # logo pixels at least this opaque are compared: their colour is the logo's, whatever lies under
TOLERANCE = 12  # per-channel difference a solid logo pixel may show (PNG round trip, plate shadows: none)


def logo_drawn(poster: Poster) -> float | None:
    """Share of the logo's solid pixels that the poster shows in the logo box as the logo has them (1.0: all
    drawn; lower: covered by something or missing). None when the poster has no logo or no solid pixel."""
    box, layer = poster.layout.logo, poster.logo
    if box is None or layer is None:
        return None
    rgba = np.asarray(layer.convert("RGBA"))
    img = poster.image if poster.image.mode == "RGB" else poster.image.convert("RGB")
    w, h = img.size
    if (rgba.shape[1], rgba.shape[0]) != (box.w, box.h) or box.x0 < 0 or box.y0 < 0 or box.x1 > w or box.y1 > h:
        return 0.0  # a layer that does not match its box, or a box off the canvas: not the logo as laid out
    solid = rgba[..., 3] >= SOLID
    if not solid.any():
        return None
    shown = np.asarray(img.crop(tuple(box.as_list()))).astype(np.int16)
    diff = np.abs(shown - rgba[..., :3].astype(np.int16)).max(axis=2)
    return float((diff[solid] <= TOLERANCE).mean())


def measure_brand(s: Sample) -> list[Check]:
    """layout.logo (when the poster has a logo) and layout.dropped (when the layout gave up copy)."""
    checks = []
    layout = s.poster.layout
    if layout.logo is not None:
        value = logo_drawn(s.poster)
        if value is None:
            checks.append(Check("layout.logo", None, "warn", "the logo layer has no solid pixel to check"))
        else:
            checks.append(judge("layout.logo", value, s.t, f"logo drawn on {value:.1%} of its solid pixels at "
                                f"{layout.logo.as_list()}", 4))
    if layout.dropped:
        names = ", ".join(layout.dropped)
        checks.append(Check("layout.dropped", float(len(layout.dropped)),
                            status("layout.dropped", float(len(layout.dropped)), s.t),
                            f"the canvas could not hold all of the copy: dropped {names} (lowest priority first)"))
    return checks
