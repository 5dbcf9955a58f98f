"""Scene stage backend `sdxl-inpaint`: SDXL + EcomXL inpaint ControlNet (+ optional softedge) outpainting the
scene around the placed product, accelerated by the SLAM (or LCM) LoRA with LCMScheduler, 4 steps, guidance 1."""

from __future__ import annotations

from typing import Any, Literal

from ecomctl.render import BACKENDS
from ecomctl.render.diffusion import canvas, ip_style
from ecomctl.render.diffusion.common import DiffusionBackend, Need
from ecomctl.render.diffusion.loading import Loader
from ecomctl.types import SceneRequest, Size


class SdxlInpaintSettings(ip_style.IPStyleSettings):
    base: str = "stabilityai/stable-diffusion-xl-base-1.0"
    controlnet: str = "alimama-creative/EcomXL_controlnet_inpaint"
    softedge: str | None = None  # e.g. alimama-creative/EcomXL_controlnet_softedge
    lora: str | None = "alimama-creative/slam-lora-sdxl"  # or latent-consistency/lcm-lora-sdxl; null: none
    lora_weight: str | None = None  # weight file inside the LoRA repo, when it holds several
    vae: str | None = None  # e.g. madebyollin/sdxl-vae-fp16-fix for fp16
    scheduler: Literal["lcm", "keep"] = "lcm"  # SLAM/LCM LoRAs sample with LCMScheduler
    steps: int = 4
    guidance: float = 1.0
    control_scale: float = 0.5  # EcomXL's recommended conditioning scale
    softedge_scale: float = 0.5
    max_side: int | None = 1024


@BACKENDS.register("sdxl-inpaint")
class SdxlInpaintBackend(DiffusionBackend):
    name = "sdxl-inpaint"
    Settings = SdxlInpaintSettings
    ALIGN = 64
    PIPELINE = "StableDiffusionXLControlNetPipeline"
    MAIN = "base"
    NEEDS = (
        Need("base", "SDXL base 1.0 (UNet, 2 text encoders, VAE)", 7.0),
        Need("controlnet", "EcomXL inpaint ControlNet", 2.5),
        Need("softedge", "EcomXL softedge ControlNet (optional)", 2.5, required=False),
        Need("lora", "SLAM / LCM acceleration LoRA", 0.4, required=False),
        Need("vae", "replacement VAE (optional)", 0.2, required=False),
        Need("tiny_vae", "tiny VAE decoder (optional)", 0.01, required=False),
        *ip_style.NEEDS,
    )

    def load_kwargs(self, loader: Loader) -> dict[str, Any]:
        from diffusers import AutoencoderKL, ControlNetModel

        s = self.settings
        nets = [loader.load(ControlNetModel, "controlnet")]
        if s.softedge:
            nets.append(loader.load(ControlNetModel, "softedge"))
        extra = {"vae": loader.load(AutoencoderKL, "vae")} if s.vae else {}
        return {"controlnet": nets if s.softedge else nets[0], "add_watermarker": False, **extra}

    def supplied_components(self) -> set[str]:
        return {"vae"} if self.settings.vae else set()

    def configure(self, pipe: Any) -> None:
        from diffusers import LCMScheduler

        if self.settings.scheduler == "lcm":
            pipe.scheduler = LCMScheduler.from_config(pipe.scheduler.config)

    def generate(self, pipe: Any, batch: list[SceneRequest], work: Size, gens: list) -> list:
        import numpy as np
        import torch

        s = self.settings
        pos, neg = self.prompts(batch)
        inits = [canvas.init_image(r, work) for r in batch]
        masks = [canvas.outpaint_mask(r, work, s.mask_dilate) for r in batch]
        control: Any = torch.from_numpy(np.concatenate([canvas.ecomxl_control(i, m) for i, m in zip(inits, masks)]))
        scale: Any = s.control_scale
        if s.softedge:
            edges = np.stack([np.asarray(canvas.softedge_control(i, m), dtype=np.float32) / 255.0
                              for i, m in zip(inits, masks)]).transpose(0, 3, 1, 2)
            control = [control, torch.from_numpy(edges)]  # tensors: the pipeline rejects nested image lists
            scale = [s.control_scale, s.softedge_scale]
        out = pipe(prompt=pos, negative_prompt=neg if any(neg) else None, image=control, height=work.h,
                   width=work.w, num_inference_steps=s.steps, guidance_scale=s.guidance,
                   controlnet_conditioning_scale=scale, generator=gens, output_type="pil",
                   **self._call_kwargs)
        return out.images

    def extra_describe(self) -> dict[str, Any]:
        return {"scheduler": self.settings.scheduler, "control_scale": self.settings.control_scale}
