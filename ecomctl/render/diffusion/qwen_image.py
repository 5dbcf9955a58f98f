"""Scene stage backend `qwen-image`: Qwen-Image inpainting the scene around the placed product, accelerated by
a distilled LoRA — the Wuli 2-step turbo preset (default) or the Lightning 8-step preset — 2K capable."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import model_validator

from ecomctl.render import BACKENDS
from ecomctl.render.diffusion import canvas
from ecomctl.render.diffusion.common import DiffusionBackend, DiffusionSettings, Need
from ecomctl.types import SceneRequest, Size

# FlowMatchEulerDiscreteScheduler overrides the Lightning LoRAs are distilled with, as the lightx2v/Qwen-Image-
# Lightning model card gives them ("We use shift=3 in distillation": base/max shift log 3, exponential time shift).
LIGHTNING_SCHEDULER = {
    "base_image_seq_len": 256, "base_shift": math.log(3), "max_image_seq_len": 8192, "max_shift": math.log(3),
    "shift": 1.0, "shift_terminal": None, "time_shift_type": "exponential", "use_dynamic_shifting": True,
    "use_beta_sigmas": False, "use_exponential_sigmas": False, "use_karras_sigmas": False,
    "stochastic_sampling": False, "invert_sigmas": False,
}

# Presets (the values a preset gives to every key the config leaves out):
# - turbo: Wuli-art's Qwen-Image-2512 turbo LoRA, 2 steps (DMD2 distillation from a PCM warm start, plus a GAN
#   loss; Wuli's "4 x 2K images in 5 s"). Its sibling card (Wuli-art/Qwen-Image-2512-Turbo-LoRA, the 4/8-step
#   release) loads it on Qwen/Qwen-Image-2512 with a bare `load_lora_weights(repo)` and samples with the base
#   repo's own FlowMatch scheduler config, so the sampler is kept as the base model ships it ("keep"); the LoRA
#   is CFG-distilled ("2x from CFG-distillation"), so true CFG stays off (guidance 1). The card names no weight
#   file: `lora_weight: null` takes the file diffusers itself would pick (pytorch_lora_weights.safetensors, else
#   the one top-level .safetensors), and `models pull` fetches only that file. (Checked against the stored
#   Hugging Face pages: the 4/8-step card and its file list; the 2-step repo's own page was not among them, so
#   its id is the one the work cites and the scheduler follows the family's card.)
# - lightning: lightx2v/Qwen-Image-Lightning on Qwen/Qwen-Image, 8 steps, LIGHTNING_SCHEDULER (the card's
#   diffusers example); the repo also holds 4-step files (set lora_weight and steps together).
PRESETS: dict[str, dict[str, Any]] = {
    "turbo": {"model": "Qwen/Qwen-Image-2512", "lora": "Wuli-art/Qwen-Image-2512-Turbo-LoRA-2-Steps",
              "lora_weight": None, "steps": 2, "scheduler": "keep", "guidance": 1.0},
    "lightning": {"model": "Qwen/Qwen-Image", "lora": "lightx2v/Qwen-Image-Lightning",
                  "lora_weight": "Qwen-Image-Lightning-8steps-V1.1.safetensors", "steps": 8,
                  "scheduler": "lightning", "guidance": 1.0},
}


class QwenSettings(DiffusionSettings):
    model: str = "Qwen/Qwen-Image"
    lora: str | None = "lightx2v/Qwen-Image-Lightning"
    lora_weight: str | None = "Qwen-Image-Lightning-8steps-V1.1.safetensors"
    scheduler: Literal["keep", "lightning"] = "lightning"  # lightning: apply LIGHTNING_SCHEDULER
    sigmas: list[float] | None = None  # a fixed sigma schedule (one per step) instead of the scheduler's
    steps: int = 8
    guidance: float = 1.0  # true CFG scale; 1 = no negative pass (what the distilled LoRAs expect)
    max_sequence_length: int = 512
    max_side: int | None = 2048


class QwenImageSettings(QwenSettings):
    preset: Literal["turbo", "lightning"] = "turbo"
    model: str = PRESETS["turbo"]["model"]
    lora: str | None = PRESETS["turbo"]["lora"]
    lora_weight: str | None = None
    scheduler: Literal["keep", "lightning"] = "keep"
    steps: int = 2

    @model_validator(mode="before")
    @classmethod
    def _fill_from_preset(cls, data: Any) -> Any:
        """Keys the config sets win; the preset fills the rest (so `preset: lightning` alone is enough)."""
        if not isinstance(data, dict) or data.get("preset", "turbo") not in PRESETS:
            return data
        return {**PRESETS[data.get("preset", "turbo")], **data}


class QwenBackendBase(DiffusionBackend):
    Settings = QwenSettings
    ALIGN = 32
    GUIDANCE_ARG = "true_cfg_scale"

    def configure(self, pipe: Any) -> None:
        from diffusers import FlowMatchEulerDiscreteScheduler

        if self.settings.scheduler == "lightning":
            pipe.scheduler = FlowMatchEulerDiscreteScheduler.from_config({**pipe.scheduler.config,
                                                                          **LIGHTNING_SCHEDULER})

    def cfg_kwargs(self, batch: list[SceneRequest]) -> dict[str, Any]:
        pos, neg = self.prompts(batch)
        kw: dict[str, Any] = {"prompt": pos, "true_cfg_scale": self.settings.guidance}
        if self.settings.guidance > 1:
            kw["negative_prompt"] = [n or " " for n in neg]
        return kw

    def step_kwargs(self) -> dict[str, Any]:
        s = self.settings
        return {"num_inference_steps": s.steps, **({"sigmas": list(s.sigmas)} if s.sigmas else {})}

    def extra_describe(self) -> dict[str, Any]:
        return {"scheduler": self.settings.scheduler, "lora_file": self.applied.get("lora_file")}


@BACKENDS.register("qwen-image")
class QwenImageBackend(QwenBackendBase):
    name = "qwen-image"
    Settings = QwenImageSettings
    PIPELINE = "QwenImageInpaintPipeline"
    NEEDS = (
        Need("model", "Qwen-Image(-2512) (20B MMDiT, Qwen2.5-VL-7B text encoder, VAE)", 57.7),
        Need("lora", "acceleration LoRA: Wuli turbo 2-step (preset turbo) or Lightning (preset lightning)", 1.2,
             required=False),
    )

    def extra_describe(self) -> dict[str, Any]:
        return {"preset": self.settings.preset, **super().extra_describe()}

    def generate(self, pipe: Any, batch: list[SceneRequest], work: Size, gens: list) -> list:
        s = self.settings
        out = pipe(image=[canvas.init_image(r, work) for r in batch],
                   mask_image=[canvas.outpaint_mask(r, work, s.mask_dilate) for r in batch], strength=1.0,
                   height=work.h, width=work.w, generator=gens, max_sequence_length=s.max_sequence_length,
                   output_type="pil", **self.step_kwargs(), **self.cfg_kwargs(batch))
        return out.images
