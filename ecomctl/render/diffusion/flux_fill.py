"""Scene stage backend `flux-fill`: FLUX.1 Fill outpainting around the placed product (mask = outside it),
with diffusers' first-block cache as an option (`cache_threshold`)."""

from __future__ import annotations

from typing import Any

from ecomctl.render import BACKENDS
from ecomctl.render.diffusion import canvas
from ecomctl.render.diffusion.common import DiffusionBackend, DiffusionSettings, Need
from ecomctl.types import SceneRequest, Size


class FluxFillSettings(DiffusionSettings):
    model: str = "black-forest-labs/FLUX.1-Fill-dev"
    steps: int = 28
    guidance: float = 30.0  # FLUX Fill is guidance-distilled; 30 is its reference value
    max_sequence_length: int = 512
    max_side: int | None = 1024


@BACKENDS.register("flux-fill")
class FluxFillBackend(DiffusionBackend):
    name = "flux-fill"
    Settings = FluxFillSettings
    ALIGN = 32
    PIPELINE = "FluxFillPipeline"
    NEEDS = (
        Need("model", "FLUX.1 Fill [dev] (transformer, CLIP-L, T5-XXL, VAE)", 34.0),
        Need("tiny_vae", "tiny VAE decoder (optional, e.g. madebyollin/taef1)", 0.01, required=False),
    )

    def generate(self, pipe: Any, batch: list[SceneRequest], work: Size, gens: list) -> list:
        s = self.settings
        pos, _ = self.prompts(batch)
        out = pipe(prompt=pos, image=[canvas.init_image(r, work) for r in batch],
                   mask_image=[canvas.outpaint_mask(r, work, s.mask_dilate) for r in batch], height=work.h,
                   width=work.w, guidance_scale=s.guidance, num_inference_steps=s.steps, generator=gens,
                   max_sequence_length=s.max_sequence_length, output_type="pil")
        return out.images
