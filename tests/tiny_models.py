"""Tiny random diffusion pipelines saved with save_pretrained in the published repos' layout, built once per
test session; `tiny_settings(name)` gives the `backends.<name>` config that points every repo id at them."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from ecomctl.bench import arch
from ecomctl.render import BUILTIN

FIXTURES = Path(__file__).parent / "fixtures"  # published config files (see fixtures/README.md)
_ROOT: Path | None = None
_BUILT: dict[str, dict[str, Any]] = {}
COMMON = {"dtype": "fp32", "steps": 2, "batch": 2, "max_side": None}


def _root() -> Path:
    global _ROOT
    if _ROOT is None:
        _ROOT = Path(tempfile.mkdtemp(prefix="ecomctl-tiny-models-"))
    return _ROOT


def _lora(net: Any, targets: list[str]) -> dict[str, Any]:
    """A random rank-2 LoRA on `net` (non-zero, so loading and fusing it changes the output)."""
    import torch
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(1)
    net.add_adapter(LoraConfig(r=2, lora_alpha=2, target_modules=targets, init_lora_weights=False))
    state = get_peft_model_state_dict(net)
    net.delete_adapters(net.active_adapters())
    return state


def published_scheduler(cls_name: str, fixture: str) -> Any:
    """A diffusers scheduler built from a published scheduler_config.json kept in tests/fixtures."""
    import diffusers

    return getattr(diffusers, cls_name).from_config(json.loads((FIXTURES / fixture).read_text()))


def _sdxl(root: Path) -> dict[str, Any]:
    from diffusers import StableDiffusionXLPipeline

    c = arch.sdxl("tiny")
    controlnet = c.pop("controlnet")
    pipe = StableDiffusionXLPipeline(**c)
    pipe.save_pretrained(root / "sdxl-base")
    pipe.save_pretrained(root / "sdxl-base", variant="fp16")  # the half-precision files SDXL's repo ships
    c["vae"].save_pretrained(root / "sdxl-vae-fp16-fix")  # stands in for madebyollin/sdxl-vae-fp16-fix
    controlnet.save_pretrained(root / "ecomxl-inpaint")
    controlnet.save_pretrained(root / "ecomxl-softedge")
    lora = _lora(c["unet"], ["to_q", "to_k", "to_v", "to_out.0"])
    StableDiffusionXLPipeline.save_lora_weights(root / "slam-lora", unet_lora_layers=lora)
    # sizing "fit": the tiny tests run at their small canvases, not at SDXL's ~1 MP buckets
    return {"base": root / "sdxl-base", "controlnet": root / "ecomxl-inpaint", "lora": root / "slam-lora",
            "fp16_vae": root / "sdxl-vae-fp16-fix", "sizing": "fit"}


def _sdxs(root: Path) -> dict[str, Any]:
    from diffusers import StableDiffusionPipeline

    parts = {**arch.sdxs("tiny"),  # with the scheduler IDKiro/sdxs-512-0.9 ships (EulerDiscrete, trailing)
             "scheduler": published_scheduler("EulerDiscreteScheduler", "sdxs_512_0.9_scheduler_config.json")}
    pipe = StableDiffusionPipeline(**parts, requires_safety_checker=False)
    pipe.save_pretrained(root / "sdxs")
    pipe.save_pretrained(root / "sdxs", variant="fp16")  # a second weight variant, as SD repos ship
    return {"model": root / "sdxs", "steps": 1}


def _qwen_lora(root: Path, transformer: Any) -> Path:
    from diffusers import QwenImagePipeline

    lora = _lora(transformer, ["to_q", "to_k", "to_v"])
    QwenImagePipeline.save_lora_weights(root / "qwen-lightning", transformer_lora_layers=lora)
    return root / "qwen-lightning"


def _qwen(root: Path) -> dict[str, Any]:
    from diffusers import QwenImagePipeline

    c = arch.qwen_image("tiny")
    c["scheduler"] = published_scheduler("FlowMatchEulerDiscreteScheduler", "qwen_image_scheduler_config.json")
    QwenImagePipeline(**c).save_pretrained(root / "qwen-image")
    return {"model": root / "qwen-image", "lora": _qwen_lora(root, c["transformer"]),
            "lora_weight": "pytorch_lora_weights.safetensors"}


def _flux(root: Path) -> dict[str, Any]:
    from diffusers import FluxFillPipeline

    FluxFillPipeline(**arch.flux_fill("tiny")).save_pretrained(root / "flux-fill")
    return {"model": root / "flux-fill", "guidance": 3.0}


def _composer(root: Path) -> dict[str, Any]:
    """Saved like Qwen-Image-Edit-2509: the VL processor's parts in processor/ (saved by hand because a
    processor without torchvision's video half cannot save itself)."""
    from diffusers import QwenImageEditPlusPipeline

    c = arch.composer("tiny")
    processor = c.pop("processor")
    folder = root / "qwen-image-edit"
    QwenImageEditPlusPipeline(**c, processor=None).save_pretrained(folder)
    processor.image_processor.save_pretrained(folder / "processor")
    processor.tokenizer.save_pretrained(folder / "processor")
    index = json.loads((folder / "model_index.json").read_text())
    index["processor"] = ["transformers", "Qwen2VLProcessor"]
    (folder / "model_index.json").write_text(json.dumps(index, indent=2))
    return {"model": folder, "lora": _qwen_lora(root, c["transformer"]),
            "lora_weight": "pytorch_lora_weights.safetensors", "vae_condition_side": 64, "vl_condition_side": 56}


def ip_adapter(name: str) -> dict[str, Any]:
    """A tiny IP-Adapter for the tiny `name` UNet, saved in h94/IP-Adapter's layout (sdxl_models/
    ip-adapter_sdxl.safetensors + sdxl_models/image_encoder/) — the `backends.<name>` keys that enable it."""
    folder = _root() / f"ip-adapter-{name}"
    keys = {"style_ip": True, "ip_adapter": str(folder), "ip_subfolder": "sdxl_models",
            "ip_weight": "ip-adapter_sdxl.safetensors", "ip_image_encoder": "image_encoder", "ip_scale": 1.0}
    if folder.exists():
        return keys
    import torch
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(2)
    unet = UNet2DConditionModel.from_pretrained(tiny_settings(name)["model" if name == "sdxs" else "base"],
                                                subfolder="unet")
    cross, proj_dim = unet.config.cross_attention_dim, 8
    vision = CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                              image_size=32, patch_size=8, projection_dim=proj_dim)
    CLIPVisionModelWithProjection(vision).save_pretrained(folder / "sdxl_models" / "image_encoder")
    state = {"image_proj.proj.weight": torch.randn(4 * cross, proj_dim) * 0.5,
             "image_proj.proj.bias": torch.zeros(4 * cross),
             "image_proj.norm.weight": torch.ones(cross), "image_proj.norm.bias": torch.zeros(cross)}
    key_id = 1
    for proc in unet.attn_processors:  # diffusers numbers the cross-attention layers 1, 3, 5, …
        if proc.endswith("attn2.processor"):
            attn = unet.get_submodule(proc[: -len(".processor")])
            for k in ("to_k_ip", "to_v_ip"):
                state[f"ip_adapter.{key_id}.{k}.weight"] = torch.randn(attn.to_k.out_features, cross) * 0.5
            key_id += 2
    save_file(state, folder / "sdxl_models" / "ip-adapter_sdxl.safetensors")
    return keys


# by architecture (ecomctl/bench/arch.py's builder names); the backend names come from ecomctl.render.BUILTIN
_SAVERS = {"sdxl": _sdxl, "sdxs": _sdxs, "qwen_image": _qwen, "flux_fill": _flux, "composer": _composer}
_BUILDERS = {b.name: _SAVERS[b.arch] for b in BUILTIN if b.arch}
NAMES = tuple(_BUILDERS)


def tiny_settings(name: str) -> dict[str, Any]:
    """`backends.<name>` settings pointing at tiny saved models (built on first use, then reused)."""
    if name not in _BUILT:
        import torch

        torch.set_num_threads(1)
        torch.manual_seed(0)
        paths = _BUILDERS[name](_root())
        _BUILT[name] = {**COMMON, **{k: str(v) if isinstance(v, Path) else v for k, v in paths.items()}}
    return dict(_BUILT[name])
