"""Scene stage backend `sdxs`: SDXS-512 one-step UNet with its tiny VAE; the scene is made at <= 512 px and
resized to the canvas (text-to-scene: the product is pasted back by the runner)."""

from __future__ import annotations

from typing import Any

from ecomctl.render import BACKENDS
from ecomctl.render.diffusion import ip_style
from ecomctl.render.diffusion.common import DiffusionBackend, Need
from ecomctl.render.diffusion.loading import Loader
from ecomctl.types import SceneRequest, Size


class SdxsSettings(ip_style.IPStyleSettings):
    model: str = "IDKiro/sdxs-512-0.9"  # its `vae` folder is the tiny AutoencoderTiny decoder
    steps: int = 1
    guidance: float = 0.0  # one-step distilled: no classifier-free guidance
    max_side: int | None = 512
    ip_adapter: str | None = None  # SDXS is SD-2.1 sized (1024-d text states): no public IP-Adapter fits


@BACKENDS.register("sdxs")
class SdxsBackend(DiffusionBackend):
    name = "sdxs"
    Settings = SdxsSettings
    ALIGN = 64
    PIPELINE = "StableDiffusionPipeline"
    NEEDS = (
        Need("model", "SDXS-512 one-step UNet + text encoder + tiny VAE", 1.3),
        Need("tiny_vae", "tiny VAE decoder (optional)", 0.01, required=False),
        *ip_style.NEEDS,
    )

    def load_kwargs(self, loader: Loader) -> dict[str, Any]:
        return {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}

    def supplied_components(self) -> set[str]:
        return {"safety_checker", "feature_extractor"}

    def generate(self, pipe: Any, batch: list[SceneRequest], work: Size, gens: list) -> list:
        s = self.settings
        pos, neg = self.prompts(batch)
        # one step must start at the last training timestep, as SDXS was distilled
        steps = {"timesteps": [999]} if s.steps == 1 else {"num_inference_steps": s.steps}
        out = pipe(prompt=pos, negative_prompt=neg if any(neg) and s.guidance > 1 else None, height=work.h,
                   width=work.w, guidance_scale=s.guidance, generator=gens, output_type="pil", **steps,
                   **self._call_kwargs)
        return out.images
