"""Scene stage backend `qwen-image`: Qwen-Image inpainting the scene around the placed product, accelerated
by a Lightning LoRA (2–8 steps, the FlowMatch settings those LoRAs are trained with), 2K capable."""

from __future__ import annotations

import math
from typing import Any

from ecomctl.render import BACKENDS
from ecomctl.render.diffusion import canvas
from ecomctl.render.diffusion.common import DiffusionBackend, DiffusionSettings, Need
from ecomctl.types import SceneRequest, Size

# FlowMatchEulerDiscreteScheduler overrides the Qwen-Image Lightning LoRAs are distilled with
LIGHTNING_SCHEDULER = {
    "base_image_seq_len": 256, "base_shift": math.log(3), "max_image_seq_len": 8192, "max_shift": math.log(3),
    "shift": 1.0, "shift_terminal": None, "time_shift_type": "exponential", "use_dynamic_shifting": True,
    "use_beta_sigmas": False, "use_exponential_sigmas": False, "use_karras_sigmas": False,
    "stochastic_sampling": False, "invert_sigmas": False,
}


class QwenSettings(DiffusionSettings):
    model: str = "Qwen/Qwen-Image"
    lora: str | None = "lightx2v/Qwen-Image-Lightning"
    lora_weight: str | None = "Qwen-Image-Lightning-8steps-V1.1.safetensors"
    lightning_scheduler: bool = True  # apply LIGHTNING_SCHEDULER (keep on with a Lightning LoRA)
    steps: int = 8
    guidance: float = 1.0  # true CFG scale; 1 = no negative pass (what Lightning expects)
    max_sequence_length: int = 512
    max_side: int | None = 2048


class QwenBackendBase(DiffusionBackend):
    Settings = QwenSettings
    ALIGN = 32
    GUIDANCE_ARG = "true_cfg_scale"

    def configure(self, pipe: Any) -> None:
        from diffusers import FlowMatchEulerDiscreteScheduler

        if self.settings.lightning_scheduler:
            pipe.scheduler = FlowMatchEulerDiscreteScheduler.from_config({**pipe.scheduler.config,
                                                                          **LIGHTNING_SCHEDULER})

    def cfg_kwargs(self, batch: list[SceneRequest]) -> dict[str, Any]:
        pos, neg = self.prompts(batch)
        kw: dict[str, Any] = {"prompt": pos, "true_cfg_scale": self.settings.guidance}
        if self.settings.guidance > 1:
            kw["negative_prompt"] = [n or " " for n in neg]
        return kw


@BACKENDS.register("qwen-image")
class QwenImageBackend(QwenBackendBase):
    name = "qwen-image"
    PIPELINE = "QwenImageInpaintPipeline"
    NEEDS = (
        Need("model", "Qwen-Image (20B MMDiT, Qwen2.5-VL-7B text encoder, VAE)", 57.7),
        Need("lora", "Qwen-Image Lightning LoRA", 1.7, required=False),
    )

    def generate(self, pipe: Any, batch: list[SceneRequest], work: Size, gens: list) -> list:
        s = self.settings
        out = pipe(image=[canvas.init_image(r, work) for r in batch],
                   mask_image=[canvas.outpaint_mask(r, work, s.mask_dilate) for r in batch], strength=1.0,
                   height=work.h, width=work.w, num_inference_steps=s.steps, generator=gens,
                   max_sequence_length=s.max_sequence_length, output_type="pil", **self.cfg_kwargs(batch))
        return out.images
