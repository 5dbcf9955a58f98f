"""Scene stage, diffusion side: IP-Adapter style consistency for the UNet backends — settings, loading the
adapter and its image encoder through diffusers, and turning a batch into reference/target pairs (the
attention itself lives in ip_attention)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ecomctl.errors import ConfigError
from ecomctl.render.diffusion import canvas
from ecomctl.render.diffusion.common import DiffusionSettings, Need
from ecomctl.types import SceneRequest, Size

if TYPE_CHECKING:
    from ecomctl.render.diffusion.common import DiffusionBackend
    from ecomctl.render.diffusion.loading import Loader

# h94/IP-Adapter ships the SDXL adapter as sdxl_models/ip-adapter_sdxl.safetensors (703 MB, next to a .bin)
# with its OpenCLIP ViT-bigG image encoder in sdxl_models/image_encoder (model.safetensors, 3.69 GB) — as the
# stored Hugging Face file listings of the repo show; diffusers' load_ip_adapter reads exactly that layout.
NEEDS = (Need("ip_adapter", "IP-Adapter (image projection + decoupled K/V) and its CLIP image encoder", 4.4,
              required=False, when="style_ip"),)


class IPStyleSettings(DiffusionSettings):
    """`backends.<unet backend>.*` for IP-Adapter style consistency (off unless style_ip is true)."""

    style_ip: bool = False  # each scene follows its style reference through the IP-Adapter image branch
    ip_adapter: str | None = "h94/IP-Adapter"
    ip_subfolder: str = "sdxl_models"
    ip_weight: str = "ip-adapter_sdxl.safetensors"
    ip_image_encoder: str = "image_encoder"  # folder inside ip_subfolder (or a repo path with a "/")
    ip_scale: float = 0.6  # weight of the image branch
    ip_layers: list[str] | None = None  # attention-layer name prefixes to guide, e.g. ["up_blocks.0"]; None: all
    ip_condition_guidance: bool = True  # targets read the reference's image K/V
    ip_mask_guidance: bool = True  # … except inside the subject mask
    ip_mask_threshold: float = 0.5  # on the subject's normalised cross-attention map
    ip_reference_prompt: str | None = None  # the reference's text condition; None: the style preset's prompt


def load(backend: DiffusionBackend, pipe: Any, loader: Loader) -> Any:
    """Load the adapter + image encoder into `pipe` and wrap the chosen layers; returns the shared Guide."""
    from ecomctl.render.diffusion import ip_attention

    s = backend.settings
    if not s.ip_adapter:
        raise ConfigError(f"config {backend.where('ip_adapter')}: style_ip needs an IP-Adapter repo or folder")
    src = loader.source("ip_adapter")
    try:
        pipe.load_ip_adapter(src, subfolder=s.ip_subfolder, weight_name=s.ip_weight,
                             image_encoder_folder=s.ip_image_encoder, local_files_only=backend.local_only)
    except (OSError, ValueError) as e:
        raise loader._failed("ip_adapter", src, e) from None
    pipe.set_ip_adapter_scale(s.ip_scale)
    guide = ip_attention.Guide(condition=s.ip_condition_guidance, mask=s.ip_mask_guidance,
                               threshold=s.ip_mask_threshold)
    layers = ip_attention.install(pipe.unet, guide, s.ip_layers)
    if not layers:
        raise ConfigError(f"config {backend.where('ip_layers')}: no IP-Adapter layer starts with {s.ip_layers}")
    backend.applied["style_ip"] = {"layers": len(layers), "scale": s.ip_scale,
                                   "condition": s.ip_condition_guidance, "mask": s.ip_mask_guidance}
    return guide


def pairs(batch: list[SceneRequest], settings: Any) -> list[SceneRequest]:
    """[reference, target] per request: the reference carries the preset condition as its text, the target
    the user's prompt; both start from the same seed and layout."""
    out = []
    for r in batch:
        ref_prompt = settings.ip_reference_prompt or r.style.prompt or "product photography background"
        out += [dataclasses.replace(r, prompt=ref_prompt), r]
    return out


def prepare(pipe: Any, guide: Any, batch: list[SceneRequest], work: Size, cfg: bool) -> dict[str, Any]:
    """Set the guide for this call and return the pipeline's image-branch argument: the style reference
    (image or palette swatch) for each reference, the placed product for each target."""
    import torch

    guide.group = 2
    subject = [subject_tokens(pipe.tokenizer, r.prompt, r.row.subject or "product") for r in batch]
    guide.tokens = ([[]] * len(batch) if cfg else []) + subject  # the unconditional half gets no mask
    guide.masks.clear()
    images = [img for r in batch for img in (canvas.style_reference(r.style, work), canvas.init_image(r, work))]
    proj = pipe.unet.encoder_hid_proj.image_projection_layers[0]
    from diffusers.models.embeddings import ImageProjection

    embeds, uncond = pipe.encode_image(images, pipe._execution_device, 1, not isinstance(proj, ImageProjection))
    # every image for every entry (diffusers repeats one set over the batch); ip_attention.own_tokens then
    # gives entry r its image r
    embeds, uncond = embeds[None], uncond[None]
    return {"ip_adapter_image_embeds": [torch.cat([uncond, embeds]) if cfg else embeds]}


def subject_tokens(tokenizer: Any, prompt: str, subject: str) -> list[int]:
    """Positions of the subject's tokens in the tokenised prompt (empty when the prompt does not name it)."""
    ids = tokenizer(prompt, truncation=True, max_length=tokenizer.model_max_length).input_ids
    want = tokenizer(subject, add_special_tokens=False).input_ids
    for start in range(len(ids) - len(want) + 1):
        if want and ids[start:start + len(want)] == want:
            return list(range(start, start + len(want)))
    return []
