"""Scene prompt for diffusion backends, built from the style and the SKU — never from the copy text."""

from __future__ import annotations

from ecomctl.types import SkuRow, Style

NEGATIVE = "text, letters, watermark, logo, lowres, blurry, distorted, extra objects, duplicate product"


def build_prompt(row: SkuRow, style: Style, default_subject: str = "product") -> str:
    parts = [row.prompt or "", f"a {row.subject or default_subject} standing in the scene",
             style.prompt, "commercial product photography, advertising poster background, high quality"]
    return ", ".join(p.strip() for p in parts if p and p.strip())
