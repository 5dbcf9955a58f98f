"""Scene prompt for diffusion backends, built from the style and the SKU — never from the copy text."""

from __future__ import annotations

from ecomctl.types import SkuRow, Style

NEGATIVE = "text, letters, watermark, logo, lowres, blurry, distorted, extra objects, duplicate product"
# A prompt-only backend (no outpainting around the placed product) must not be asked for the product: it would
# draw one of its own, which the pasted product then covers only in part. It gets an empty setting instead,
# described positively (text encoders read "no bottle" as "bottle"), and no phrase naming the product.
EMPTY_SCENE = ("empty display scene, bare surface with open space in the centre, "
               "background plate, nothing placed in the foreground")
EMPTY_TAIL = "advertising poster background, studio photography, high quality"
TAIL = "commercial product photography, advertising poster background, high quality"


def _without(text: str | None, words: set[str]) -> str:
    """The comma-separated phrases of `text` that name none of `words` (e.g. a style's "natural healthy product")."""
    return ", ".join(p.strip() for p in (text or "").split(",") if not any(w in p.lower() for w in words))


def build_prompt(row: SkuRow, style: Style, default_subject: str = "product", empty_scene: bool = False) -> str:
    subject = row.subject or default_subject
    if empty_scene:
        words = {"product", subject.lower(), subject.split()[-1].lower()} if subject.strip() else {"product"}
        parts = [_without(row.prompt, words), EMPTY_SCENE, _without(style.prompt, words), EMPTY_TAIL]
    else:
        parts = [row.prompt or "", f"a {subject} standing in the scene", style.prompt, TAIL]
    return ", ".join(p.strip() for p in parts if p and p.strip())
