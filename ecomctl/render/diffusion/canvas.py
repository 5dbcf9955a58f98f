"""Scene stage, diffusion side: canvas/mask preparation before a pipeline call and edge harmonisation after it."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from ecomctl.io import open_image
from ecomctl.types import SceneRequest, Size, Style

NEUTRAL = (127, 127, 127)  # init-image fill outside the product: mid grey biases no hue


def work_size(canvas: Size, align: int, max_side: int | None = None) -> Size:
    """The size the pipeline runs at: the canvas scaled so its long side <= max_side, rounded to `align`."""
    scale = min(1.0, max_side / max(canvas.w, canvas.h)) if max_side else 1.0
    w = max(align, round(canvas.w * scale / align) * align)
    h = max(align, round(canvas.h * scale / align) * align)
    return Size(w, h)


# SDXL's multi-aspect training buckets (width, height), ~1 MP each, multiples of 64: the list of the SDXL report
# (Podell et al. 2023, appendix "Multi-Aspect Training"), as SDXL front ends and trainers reproduce it.
_SDXL_HALF = ((512, 2048), (512, 1984), (512, 1920), (512, 1856), (576, 1792), (576, 1728), (576, 1664),
              (640, 1600), (640, 1536), (704, 1472), (704, 1408), (704, 1344), (768, 1344), (768, 1280),
              (832, 1216), (832, 1152), (896, 1152), (896, 1088), (960, 1088), (960, 1024))
SDXL_BUCKETS = tuple(Size(w, h) for w, h in _SDXL_HALF) + (Size(1024, 1024),) + tuple(
    Size(h, w) for w, h in reversed(_SDXL_HALF))


def bucket_size(canvas: Size, buckets: tuple[Size, ...]) -> Size:
    """The bucket whose aspect ratio is nearest the canvas's (in log ratio; ties: the larger area): the model
    runs at a size it was trained at and the scene is resized to the canvas after, with at most a few % of
    stretch instead of a run at an untrained size."""
    import math

    want = math.log(canvas.w / canvas.h)
    return min(buckets, key=lambda b: (round(abs(math.log(b.w / b.h) - want), 9), -b.w * b.h))


def subject_at(request: SceneRequest, size: Size) -> Image.Image:
    """The request's RGBA subject layer at the working size."""
    layer = request.subject_layer.convert("RGBA")
    return layer if layer.size == size.tuple else layer.resize(size.tuple, Image.LANCZOS)


def init_image(request: SceneRequest, size: Size, fill: tuple[int, int, int] = NEUTRAL) -> Image.Image:
    """The product on a neutral canvas: what inpaint/fill pipelines start from."""
    layer = subject_at(request, size)
    base = Image.new("RGB", size.tuple, fill)
    base.paste(layer, (0, 0), layer)
    return base


def outpaint_mask(request: SceneRequest, size: Size, dilate: int = 4) -> Image.Image:
    """L mask, 255 where the scene is generated: everything outside the product, grown `dilate` px into
    its edge so the model redraws the halo (the runner pastes the exact product pixels back anyway)."""
    alpha = np.asarray(subject_at(request, size).getchannel("A"))
    gen = Image.fromarray(np.where(alpha > 127, 0, 255).astype(np.uint8), "L")
    if dilate > 0:
        gen = gen.filter(ImageFilter.MaxFilter(2 * dilate + 1))
    return gen


def ecomxl_control(init: Image.Image, mask: Image.Image) -> np.ndarray:
    """EcomXL inpaint ControlNet condition: RGB in 0..1, masked (generated) pixels set to -1; 1x3xHxW."""
    arr = np.asarray(init.convert("RGB"), dtype=np.float32) / 255.0
    arr[np.asarray(mask) > 127] = -1.0
    return arr.transpose(2, 0, 1)[None]


def softedge_control(init: Image.Image, mask: Image.Image) -> Image.Image:
    """Soft edge map of the product silhouette and its inner detail: a blurred Canny map, standing in for the
    HED/PiDiNet soft edges EcomXL's softedge ControlNet was trained on (their weights are pickled .pth files,
    which the safetensors-only loading does not open). Thinner and harder than HED: keep softedge_scale low."""
    import cv2

    grey = np.asarray(init.convert("L"))
    edges = cv2.Canny(cv2.GaussianBlur(grey, (3, 3), 0), 50, 150)
    edges[np.asarray(mask) > 127] = 0  # edges of the product only: the scene stays free
    soft = cv2.GaussianBlur(edges, (5, 5), 0)
    return Image.fromarray(soft, "L").convert("RGB")


def glyph_image(request: SceneRequest, size: Size) -> Image.Image:
    """The copy white-on-black at its final place (InnoAds-Composer's glyph condition), RGB."""
    from ecomctl.text.glyph import render_glyphs

    img = render_glyphs(request.layout).image.convert("RGB")
    return img if img.size == size.tuple else img.resize(size.tuple, Image.LANCZOS)


def harmonize(scene: Image.Image, request: SceneRequest, strength: float = 0.25, ring: int = 12) -> Image.Image:
    """Pull the scene's colour next to the product a little toward the product's own edge colour, fading
    with distance, so the paste-back seam does not jump in tone. strength 0 returns the scene unchanged."""
    if strength <= 0:
        return scene
    import cv2

    alpha = np.asarray(subject_at(request, Size(*scene.size)).getchannel("A")) > 127
    if not alpha.any() or alpha.all():
        return scene
    dist = cv2.distanceTransform((~alpha).astype(np.uint8), cv2.DIST_L2, 3)
    inner = cv2.distanceTransform(alpha.astype(np.uint8), cv2.DIST_L2, 3)
    rgb = np.asarray(scene.convert("RGB"), dtype=np.float32)
    product = np.asarray(request.subject_layer.convert("RGB").resize(scene.size), dtype=np.float32)
    edge_in = alpha & (inner <= 3)
    near = (~alpha) & (dist <= ring)
    if not edge_in.any() or not near.any():
        return scene
    shift = product[edge_in].mean(0) - rgb[near].mean(0)
    weight = np.clip(1.0 - dist / ring, 0.0, 1.0) * (~alpha) * strength
    out = rgb + weight[..., None] * shift[None, None, :]
    return Image.fromarray(np.clip(out, 0, 255).round().astype(np.uint8), "RGB")


def to_canvas(image: Image.Image, canvas: Size) -> Image.Image:
    """Back from the working size to the full canvas (LANCZOS: scenes are smooth, this is enough)."""
    image = image.convert("RGB")
    return image if image.size == canvas.tuple else image.resize(canvas.tuple, Image.LANCZOS)


def style_reference(style: Style, size: Size) -> Image.Image:
    """The style's reference image, else a swatch of its palette (gradient stops + accent band)."""
    if style.reference is not None and style.reference.exists():
        return open_image(style.reference).convert("RGB").resize(size.tuple, Image.LANCZOS)
    stops = np.array(style.background or ((240, 240, 240),), dtype=np.float32)
    t = np.linspace(0, 1, size.h)[:, None]
    idx = t * (len(stops) - 1)
    lo = np.floor(idx).astype(int)
    hi = np.minimum(lo + 1, len(stops) - 1)
    col = stops[lo[:, 0]] * (1 - (idx - lo)) + stops[hi[:, 0]] * (idx - lo)
    img = np.repeat(col[:, None, :], size.w, axis=1)
    img[int(size.h * 0.85):, : max(1, size.w // 4)] = style.accent
    return Image.fromarray(img.round().astype(np.uint8), "RGB")
