"""Scene stage backend `composer`: single-stage multi-image edit (Qwen-Image-Edit-Plus) from the placed product,
a style reference and the glyph image — the open analogue of InnoAds-Composer."""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from typing import Any

from PIL import Image

from ecomctl.render import BACKENDS
from ecomctl.render.diffusion import canvas
from ecomctl.render.diffusion.canvas import style_reference
from ecomctl.render.diffusion.common import Need
from ecomctl.render.diffusion.loading import Loader
from ecomctl.render.diffusion.qwen_image import QwenBackendBase, QwenSettings
from ecomctl.types import SceneRequest, Size

INSTRUCTION = (
    "Make an e-commerce poster scene. Picture 1 is the product already placed on the canvas: keep it exactly "
    "where and as it is. Picture 2 is the style reference: follow its colours, light and mood. Picture 3 marks "
    "where the copy goes (white on black): keep those areas calm and uncluttered, draw no text. Scene: {prompt}"
)


class ComposerSettings(QwenSettings):
    model: str = "Qwen/Qwen-Image-Edit-2509"
    lora_weight: str | None = "Qwen-Image-Edit-2509/Qwen-Image-Edit-2509-Lightning-4steps-V1.0-bf16.safetensors"
    steps: int = 4
    max_side: int | None = 1024
    vae_condition_side: int | None = None  # VAE-encode condition images at about this side; None: the
    # working canvas's (capped at the pipeline's 1024), so small canvases do not pay for 1024² conditions
    vl_condition_side: int = 384  # … and read by the VL encoder at about this side (pipeline default)
    instruction: str = INSTRUCTION


@contextlib.contextmanager
def _video_processor_optional() -> Iterator[None]:
    """transformers insists on a video processor class (which needs torchvision) even for image-only use;
    without torchvision, accept `video_processor=None` — the edit pipeline never feeds video."""
    from transformers.processing_utils import ProcessorMixin

    original = ProcessorMixin.check_argument_for_proper_class

    def check(self: Any, name: str, arg: Any) -> Any:
        return None if name == "video_processor" and arg is None else original(self, name, arg)

    ProcessorMixin.check_argument_for_proper_class = check  # type: ignore[method-assign]
    try:
        yield
    finally:
        ProcessorMixin.check_argument_for_proper_class = original  # type: ignore[method-assign]


def vl_image_processor() -> type:
    """Qwen2-VL image processor class: the torchvision one when installed, else the PIL one."""
    import transformers

    if importlib.util.find_spec("torchvision") is not None:
        return transformers.Qwen2VLImageProcessor
    return transformers.Qwen2VLImageProcessorPil


def vl_processor(image_processor: Any, tokenizer: Any) -> Any:
    """A Qwen2-VL processor from its parts, with or without torchvision installed."""
    from transformers import Qwen2VLProcessor

    if importlib.util.find_spec("torchvision") is not None:
        return Qwen2VLProcessor(image_processor=image_processor, tokenizer=tokenizer)
    with _video_processor_optional():
        return Qwen2VLProcessor(image_processor=image_processor, tokenizer=tokenizer, video_processor=None)


@BACKENDS.register("composer")
class ComposerBackend(QwenBackendBase):
    name = "composer"
    Settings = ComposerSettings
    PIPELINE = "QwenImageEditPlusPipeline"
    NEEDS = (
        Need("model", "Qwen-Image-Edit-2509 (edit MMDiT, Qwen2.5-VL-7B, VAE, VL processor)", 57.7),
        Need("lora", "Qwen-Image-Edit Lightning LoRA", 1.7, required=False),
    )

    def load_kwargs(self, loader: Loader) -> dict[str, Any]:
        return {"processor": self._processor(loader.source("model"))}

    def _processor(self, src: str) -> Any:
        from transformers import AutoImageProcessor, AutoTokenizer

        kw = {"local_files_only": self.local_only}
        return vl_processor(AutoImageProcessor.from_pretrained(src, subfolder="processor", **kw),
                            AutoTokenizer.from_pretrained(src, subfolder="processor", **kw))

    def prompts(self, batch):  # type: ignore[override]
        pos, neg = super().prompts(batch)
        return [self.settings.instruction.format(prompt=p) for p in pos], neg

    def generate(self, pipe: Any, batch: list[SceneRequest], work: Size, gens: list) -> list:
        from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit_plus as mod

        s = self.settings
        saved = (mod.VAE_IMAGE_SIZE, mod.CONDITION_IMAGE_SIZE)
        vae_side = s.vae_condition_side or min(1024, round((work.w * work.h) ** 0.5))
        mod.VAE_IMAGE_SIZE, mod.CONDITION_IMAGE_SIZE = vae_side**2, s.vl_condition_side**2
        try:  # one call per request: the edit pipeline takes one set of condition images per call
            return [self._one(pipe, r, work, g) for r, g in zip(batch, gens)]
        finally:
            mod.VAE_IMAGE_SIZE, mod.CONDITION_IMAGE_SIZE = saved

    def _one(self, pipe: Any, r: SceneRequest, work: Size, gen: Any) -> Image.Image:
        s = self.settings
        images = [canvas.init_image(r, work), style_reference(r.style, work), canvas.glyph_image(r, work)]
        out = pipe(image=images, height=work.h, width=work.w, generator=gen, **self.step_kwargs(),
                   max_sequence_length=s.max_sequence_length, output_type="pil", **self.cfg_kwargs([r]))
        return out.images[0]
