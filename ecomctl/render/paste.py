"""Placement and paste-back shared by every backend: the original product pixels always end on top."""

from __future__ import annotations

from PIL import Image

from ecomctl.types import Box, Size, Subject


def premultiplied_cutout(subject: Subject) -> Image.Image:
    """The product cutout in premultiplied RGBa: made once per SKU and shared by its variants."""
    return subject.cutout().convert("RGBa")


def place_subject(subject: Subject, box: Box, size: Size, cutout: Image.Image | None = None) -> Image.Image:
    """A canvas-size RGBA layer holding the product cutout resized into `box` (premultiplied resample);
    `cutout` is `premultiplied_cutout(subject)` when the caller already has it."""
    cut = (cutout or premultiplied_cutout(subject)).resize((box.w, box.h), Image.Resampling.LANCZOS).convert("RGBA")
    layer = Image.new("RGBA", size.tuple, (0, 0, 0, 0))
    layer.paste(cut, (box.x0, box.y0))
    return layer


def paste_subject(scene: Image.Image, subject_layer: Image.Image) -> Image.Image:
    """Alpha-composite the product layer over the scene; fully opaque product pixels stay exact.

    Only the layer's non-transparent box is composited (elsewhere the scene is unchanged)."""
    base = scene.convert("RGB").resize(subject_layer.size) if scene.size != subject_layer.size else scene
    out = base.convert("RGB") if base.mode != "RGB" else base.copy()
    box = subject_layer.getchannel("A").getbbox()
    if box is None:
        return out
    part = Image.alpha_composite(out.crop(box).convert("RGBA"), subject_layer.crop(box)).convert("RGB")
    out.paste(part, box[:2])
    return out
