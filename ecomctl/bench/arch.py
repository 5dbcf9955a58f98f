"""Benchmark/test support: each diffusion backend's architecture built from config with random weights —
`full` (the published model's shapes, for GPU timing without a download) or `tiny` (CPU tests/bench)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Literal

from ecomctl.bench import tokenizers as toks

Scale = Literal["tiny", "full"]


@contextlib.contextmanager
def cpu_fp32() -> Iterator[None]:
    """Schedulers keep their tables in fp32 on the CPU even when modules are built on a GPU in bf16."""
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        with torch.device("cpu"):
            yield
    finally:
        torch.set_default_dtype(previous)


def _clip(hidden: int, layers: int, heads: int, inter: int, proj: int, vocab: int, with_proj: bool) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = CLIPTextConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                         intermediate_size=inter, projection_dim=proj, vocab_size=vocab,
                         max_position_embeddings=77, bos_token_id=512, eos_token_id=513, pad_token_id=513,
                         hidden_act="gelu")
    return (CLIPTextModelWithProjection if with_proj else CLIPTextModel)(cfg)


def _vae_kl(blocks: tuple[int, ...], latent: int, groups: int, scaling: float, shift: float | None = None) -> Any:
    from diffusers import AutoencoderKL

    extra = {"shift_factor": shift, "use_quant_conv": False, "use_post_quant_conv": False} if shift is not None else {}
    return AutoencoderKL(in_channels=3, out_channels=3, block_out_channels=blocks, latent_channels=latent,
                         down_block_types=["DownEncoderBlock2D"] * len(blocks),
                         up_block_types=["UpDecoderBlock2D"] * len(blocks), layers_per_block=1 if groups < 32 else 2,
                         norm_num_groups=groups, scaling_factor=scaling, sample_size=64 if groups < 32 else 1024,
                         **extra)


def sdxl(scale: Scale) -> dict[str, Any]:
    """SDXL base + a full EcomXL-style ControlNet (copy of the UNet encoder)."""
    from diffusers import ControlNetModel, EulerDiscreteScheduler, UNet2DConditionModel

    if scale == "full":
        unet = UNet2DConditionModel(
            sample_size=128, block_out_channels=(320, 640, 1280), layers_per_block=2,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            attention_head_dim=(5, 10, 20), transformer_layers_per_block=(1, 2, 10), cross_attention_dim=2048,
            use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=2816)
        te = _clip(768, 12, 12, 3072, 768, 49408, False)
        te2 = _clip(1280, 32, 20, 5120, 1280, 49408, True)
        vae = _vae_kl((128, 256, 512, 512), 4, 32, 0.13025)
        cond = (16, 32, 96, 256)
    else:
        unet = UNet2DConditionModel(
            sample_size=32, block_out_channels=(16, 32), layers_per_block=1, norm_num_groups=8,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(8, 16),
            cross_attention_dim=32, use_linear_projection=True, addition_embed_type="text_time",
            addition_time_embed_dim=8, projection_class_embeddings_input_dim=6 * 8 + 16)
        te = _clip(16, 2, 2, 32, 16, 514, False)
        te2 = _clip(16, 2, 2, 32, 16, 514, True)
        vae = _vae_kl((8, 16), 4, 8, 0.13025)
        cond = (8, 16)
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=cond)
    with cpu_fp32():
        sched = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       timestep_spacing="leading", steps_offset=1)
    return {"unet": unet, "vae": vae, "text_encoder": te, "text_encoder_2": te2, "tokenizer": toks.clip_tokenizer(),
            "tokenizer_2": toks.clip_tokenizer(), "scheduler": sched, "controlnet": controlnet}


def sdxs(scale: Scale) -> dict[str, Any]:
    """SDXS-512: an SD-2.1-base-like UNet thinned to one block per level (approximate at full scale) and
    the tiny VAE (AutoencoderTiny, TAESD shapes)."""
    from diffusers import AutoencoderTiny, DDPMScheduler, UNet2DConditionModel

    if scale == "full":
        unet = UNet2DConditionModel(
            sample_size=64, block_out_channels=(320, 640, 1280), layers_per_block=1,
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
            attention_head_dim=(5, 10, 20), cross_attention_dim=1024, use_linear_projection=True)
        te = _clip(1024, 23, 16, 4096, 512, 49408, False)
        vae = AutoencoderTiny()
    else:
        unet = UNet2DConditionModel(
            sample_size=32, block_out_channels=(16, 32), layers_per_block=1, norm_num_groups=8,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),  # attention only at the low resolution
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=8, cross_attention_dim=16)
        te = _clip(16, 2, 2, 32, 16, 514, False)
        vae = AutoencoderTiny(encoder_block_out_channels=(8, 8), decoder_block_out_channels=(8, 8),
                              num_encoder_blocks=(1, 1), num_decoder_blocks=(1, 1), latent_channels=4)
    with cpu_fp32():
        sched = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, steps_offset=1, timestep_spacing="trailing")
    return {"unet": unet, "vae": vae, "text_encoder": te, "tokenizer": toks.clip_tokenizer(), "scheduler": sched,
            "safety_checker": None, "feature_extractor": None}


def _qwen_encoder(scale: Scale, tok: Any) -> Any:
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    if scale == "full":  # Qwen2.5-VL-7B
        text = {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
                "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064,
                "rope_scaling": {"mrope_section": [16, 24, 24], "rope_type": "default", "type": "default"},
                "rope_theta": 1000000.0}
        vision = {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16,
                  "out_hidden_size": 3584}
    else:
        text = {"hidden_size": 16, "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
                "num_key_value_heads": 2, "vocab_size": len(tok),
                "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
                "rope_theta": 1000000.0}
        vision = {"depth": 1, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2, "out_hidden_size": 16}
    text.update(bos_token_id=None, eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"))
    cfg = Qwen2_5_VLConfig(text_config=text, vision_config=vision, hidden_size=text["hidden_size"],
                           vocab_size=text["vocab_size"], **toks.qwen_token_ids(tok))
    return Qwen2_5_VLForConditionalGeneration(cfg)


def qwen_image(scale: Scale) -> dict[str, Any]:
    """Qwen-Image (20B MMDiT, Qwen2.5-VL-7B text encoder, Qwen-Image VAE)."""
    from diffusers import AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler, QwenImageTransformer2DModel

    tok = toks.qwen_tokenizer()
    if scale == "full":
        transformer = QwenImageTransformer2DModel(
            patch_size=2, in_channels=64, out_channels=16, num_layers=60, attention_head_dim=128,
            num_attention_heads=24, joint_attention_dim=3584, guidance_embeds=False, axes_dims_rope=(16, 56, 56))
        vae = AutoencoderKLQwenImage()
    else:
        transformer = QwenImageTransformer2DModel(
            patch_size=2, in_channels=16, out_channels=4, num_layers=1, attention_head_dim=16,
            num_attention_heads=2, joint_attention_dim=16, guidance_embeds=False, axes_dims_rope=(8, 4, 4))
        vae = AutoencoderKLQwenImage(base_dim=24, z_dim=4, dim_mult=[1, 2, 4], num_res_blocks=1,
                                     temperal_downsample=[False, True], latents_mean=[0.0] * 4,
                                     latents_std=[1.0] * 4)
    with cpu_fp32():
        sched = FlowMatchEulerDiscreteScheduler(
            base_image_seq_len=256, base_shift=0.5, max_image_seq_len=8192, max_shift=0.9, shift=1.0,
            shift_terminal=0.02, use_dynamic_shifting=True, time_shift_type="exponential")
    return {"transformer": transformer, "vae": vae, "text_encoder": _qwen_encoder(scale, tok), "tokenizer": tok,
            "scheduler": sched}


def composer(scale: Scale) -> dict[str, Any]:
    """Qwen-Image-Edit-Plus: Qwen-Image plus the VL processor that reads the condition images."""
    from ecomctl.render.diffusion.composer import vl_image_processor, vl_processor

    parts = qwen_image(scale)
    # tiny: few vision patches per condition image keep the CPU run short
    kw = {} if scale == "full" else {"min_pixels": 56 * 56, "max_pixels": 56 * 56 * 4}
    return {**parts, "processor": vl_processor(vl_image_processor()(**kw), parts["tokenizer"])}


def flux_fill(scale: Scale) -> dict[str, Any]:
    """FLUX.1 Fill (12B MMDiT taking image + mask latents, CLIP-L + T5-XXL, 16-channel VAE)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from transformers import T5Config, T5EncoderModel

    t5tok = toks.t5_tokenizer()
    if scale == "full":
        transformer = FluxTransformer2DModel(
            patch_size=1, in_channels=384, out_channels=64, num_layers=19, num_single_layers=38,
            attention_head_dim=128, num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768,
            guidance_embeds=True, axes_dims_rope=(16, 56, 56))
        t5 = T5Config(d_model=4096, d_ff=10240, d_kv=64, num_heads=64, num_layers=24, vocab_size=32128,
                      feed_forward_proj="gated-gelu")
        clip = _clip(768, 12, 12, 3072, 768, 49408, False)
        vae = _vae_kl((128, 256, 512, 512), 16, 32, 0.3611, 0.1159)
    else:  # VAE factor 2, 2 latent channels: 4·2 image + 4·2 masked image + 4·2² mask = 32 channels in
        transformer = FluxTransformer2DModel(
            patch_size=1, in_channels=32, out_channels=8, num_layers=1, num_single_layers=1,
            attention_head_dim=16, num_attention_heads=2, joint_attention_dim=16, pooled_projection_dim=16,
            guidance_embeds=True, axes_dims_rope=(4, 4, 8))
        t5 = T5Config(d_model=16, d_ff=32, d_kv=8, num_heads=2, num_layers=2, vocab_size=len(t5tok),
                      feed_forward_proj="gated-gelu")
        clip = _clip(16, 2, 2, 32, 16, 514, False)
        vae = _vae_kl((8, 16), 2, 8, 1.5, 0.06)
    with cpu_fp32():
        sched = FlowMatchEulerDiscreteScheduler(base_image_seq_len=256, base_shift=0.5, max_image_seq_len=4096,
                                                max_shift=1.15, shift=3.0, use_dynamic_shifting=True)
    return {"transformer": transformer, "vae": vae, "text_encoder": clip, "text_encoder_2": T5EncoderModel(t5),
            "tokenizer": toks.clip_tokenizer(), "tokenizer_2": t5tok, "scheduler": sched}


def _builders() -> dict[str, Callable[[Scale], dict[str, Any]]]:
    """backend name → its builder here, from the backend table (ecomctl.render.BUILTIN, `arch`)."""
    from ecomctl.render import BUILTIN

    return {b.name: globals()[b.arch] for b in BUILTIN if b.arch}


BUILDERS = _builders()
