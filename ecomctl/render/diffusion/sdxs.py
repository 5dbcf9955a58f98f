"""Scene stage backend `sdxs`: SDXS-512 one-step UNet with its tiny VAE; the scene is made at <= 512 px and
resized to the canvas (text-to-scene: the product is pasted back by the runner)."""

from __future__ import annotations

from typing import Any, Literal

from ecomctl.render import BACKENDS
from ecomctl.render.diffusion import ip_style
from ecomctl.render.diffusion.common import DiffusionBackend, Need
from ecomctl.render.diffusion.loading import Loader
from ecomctl.types import SceneRequest, Size

# Schedulers a user may swap in for the repo's own (EulerDiscreteScheduler, "trailing" spacing). Each is built from
# the repo's scheduler config with trailing spacing, so one step starts at t = 999 as SDXS was distilled.
SCHEDULERS = {"euler": "EulerDiscreteScheduler", "euler_a": "EulerAncestralDiscreteScheduler",
              "ddim": "DDIMScheduler", "dpm": "DPMSolverMultistepScheduler", "lcm": "LCMScheduler"}


class SdxsSettings(ip_style.IPStyleSettings):
    model: str = "IDKiro/sdxs-512-0.9"  # its `vae` folder is the tiny AutoencoderTiny decoder (TAESD)
    # the card: float32 ("TAESD may produce low-quality images when weight_type is float16"); fp16 is faster
    dtype: Literal["auto", "bf16", "fp16", "fp32"] = "fp32"
    steps: int = 1  # the card: num_inference_steps=1
    guidance: float = 0.0  # the card: guidance_scale=0 (one-step distilled: no classifier-free guidance)
    scheduler: Literal["keep", "euler", "euler_a", "ddim", "dpm", "lcm"] = "keep"  # keep: the repo's scheduler
    max_side: int | None = 512
    ip_adapter: str | None = None  # SDXS is SD-2.1 sized (1024-d text states): no public IP-Adapter fits


@BACKENDS.register("sdxs")
class SdxsBackend(DiffusionBackend):
    name = "sdxs"
    Settings = SdxsSettings
    ALIGN = 64
    PIPELINE = "StableDiffusionPipeline"
    # prompt-only (no outpainting): the scene prompt describes an empty setting, not the product, or the model
    # draws a second product behind the pasted one (guidance 0 ignores any negative prompt)
    EMPTY_SCENE = True
    NEEDS = (
        Need("model", "SDXS-512 one-step UNet + text encoder + tiny VAE", 1.3),
        Need("tiny_vae", "tiny VAE decoder (optional)", 0.01, required=False),
        *ip_style.NEEDS,
    )

    def load_kwargs(self, loader: Loader) -> dict[str, Any]:
        return {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}

    def supplied_components(self) -> set[str]:
        return {"safety_checker", "feature_extractor"}

    def configure(self, pipe: Any) -> None:
        import diffusers

        if self.settings.scheduler != "keep":
            cls = getattr(diffusers, SCHEDULERS[self.settings.scheduler])
            pipe.scheduler = cls.from_config(pipe.scheduler.config, timestep_spacing="trailing")

    def generate(self, pipe: Any, batch: list[SceneRequest], work: Size, gens: list) -> list:
        s = self.settings
        pos, neg = self.prompts(batch)
        out = pipe(prompt=pos, negative_prompt=neg if any(neg) and s.guidance > 1 else None, height=work.h,
                   width=work.w, num_inference_steps=s.steps, guidance_scale=s.guidance, generator=gens,
                   output_type="pil", **self._call_kwargs)
        return out.images

    def extra_describe(self) -> dict[str, Any]:
        return {"scheduler": self.settings.scheduler}
