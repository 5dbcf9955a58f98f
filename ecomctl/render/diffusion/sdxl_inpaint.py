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
    softedge: str | None = None  # e.g. alimama-creative/EcomXL_controlnet_softedge (fed SOFTEDGE_INPUT, below)
    lora: str | None = "alimama-creative/slam-lora-sdxl"  # or latent-consistency/lcm-lora-sdxl; null: none
    lora_weight: str | None = None  # weight file inside the LoRA repo, when it holds several
    vae: str | None = None  # a replacement VAE in every precision
    # SDXL's own VAE overflows in fp16 (NaN / black images): in fp16 this one (the EcomXL softedge card's choice)
    # decodes instead, unless `vae` is set; null: keep the base VAE
    fp16_vae: str | None = "madebyollin/sdxl-vae-fp16-fix"
    variant: str | None = "auto"  # auto: the base repo's fp16 files in half precision (half the download)
    scheduler: Literal["lcm", "keep"] = "lcm"  # SLAM/LCM LoRAs sample with LCMScheduler
    steps: int = 4
    guidance: float = 1.0
    control_scale: float = 0.5  # EcomXL's recommended conditioning scale
    softedge_scale: float = 0.5
    sizing: Literal["buckets", "fit"] = "buckets"  # buckets: SDXL's ~1 MP training sizes; fit: long side max_side
    max_side: int | None = 1024  # with sizing: fit


# What the softedge ControlNet is fed. EcomXL_controlnet_softedge was trained on HED / PiDiNet soft edges (its
# card runs controlnet_aux's PidiNetDetector / HEDdetector). Those detectors' weights (lllyasviel/Annotators
# ControlNetHED.pth, table5_pidinet.pth) are pickled .pth files, which ecomctl's safetensors-only loading does not
# open, so the map is an approximation: a blurred Canny map of the product's own edges (the scene area left empty).
SOFTEDGE_INPUT = "canny-blur (approximates HED/PiDiNet soft edges; product edges only)"


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
        Need("fp16_vae", "fp16-safe SDXL VAE (used in fp16)", 0.2, required=False, when="fp16"),
        Need("tiny_vae", "tiny VAE decoder (optional)", 0.01, required=False),
        *ip_style.NEEDS,
    )

    def load_kwargs(self, loader: Loader) -> dict[str, Any]:
        from diffusers import AutoencoderKL, ControlNetModel

        s = self.settings
        nets = [loader.load(ControlNetModel, "controlnet")]
        if s.softedge:
            nets.append(loader.load(ControlNetModel, "softedge"))
        vae_key = self.vae_key()
        extra = {"vae": loader.load(AutoencoderKL, vae_key)} if vae_key else {}
        return {"controlnet": nets if s.softedge else nets[0], "add_watermarker": False, **extra}

    def vae_key(self, pulling: bool = False) -> str | None:
        """Settings key of the VAE replacing the base repo's: `vae`, else `fp16_vae` when running in fp16."""
        if self.settings.vae:
            return "vae"
        return "fp16_vae" if self.settings.fp16_vae and self.half(pulling) == "fp16" else None

    def half(self, pulling: bool = False) -> str:
        """The run's precision; when pulling on another machine, `auto` counts as fp16 (it is, before Ampere)."""
        return "fp16" if pulling and self.settings.dtype == "auto" else self.run_dtype()

    def uses(self, need: Need, pulling: bool = False) -> bool:
        if need.key == "fp16_vae":  # `auto` on a GPU may be fp16 (before Ampere): needed without asking CUDA
            s = self.settings
            maybe = s.dtype == "fp16" or (s.dtype == "auto" and (pulling or self.device.startswith("cuda")))
            return bool(s.fp16_vae) and not s.vae and maybe
        return super().uses(need, pulling)

    def weight_variant(self, pulling: bool = False) -> str | None:
        if self.settings.variant != "auto":
            return self.settings.variant
        return "fp16" if self.half(pulling) in ("fp16", "bf16") else None

    def supplied_components(self) -> set[str]:
        return {"vae"} if self.vae_key() else set()  # pull also fetches the base VAE: bf16 GPUs decode with it

    def work_size(self, canvas_size: Size) -> Size:
        if self.settings.sizing == "buckets":
            return canvas.bucket_size(canvas_size, canvas.SDXL_BUCKETS)
        return super().work_size(canvas_size)

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
        s = self.settings
        out: dict[str, Any] = {"scheduler": s.scheduler, "control_scale": s.control_scale, "sizing": s.sizing,
                               "variant": self.weight_variant() if self._dtype else s.variant}
        if s.softedge:
            out["softedge_input"] = SOFTEDGE_INPUT
        return out
