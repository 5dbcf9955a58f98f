"""Diffusion backends on tiny random models: loaded from save_pretrained folders through the real loading
code, rendered, deterministic per seed, batch-independent, product pixels exact after the shared paste-back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ecomctl.types import Box, Layout, SceneRequest, Size, SkuRow, Style, TextLine
from tests.tiny_models import NAMES, tiny_settings

pytest.importorskip("diffusers")
pytestmark = pytest.mark.models


def request(seed: int = 7, variant: int = 1) -> SceneRequest:
    size = Size(96, 64)
    layer = Image.new("RGBA", size.tuple, (0, 0, 0, 0))
    ImageDraw.Draw(layer).rounded_rectangle((30, 14, 62, 58), radius=6, fill=(40, 90, 160, 255))
    ImageDraw.Draw(layer).rectangle((38, 30, 54, 40), fill=(240, 240, 230, 255))
    row = SkuRow(sku="T1", image=Path("p.png"), title="Mug", size=size)
    line = TextLine("title", "Mug", Box(4, 2, 28, 12), 10, 700, (20, 20, 20))
    layout = Layout(size, "left", Box(30, 14, 62, 58), (line,))
    style = Style("studio", ((240, 240, 240), (200, 200, 210)), prompt="clean studio")
    return SceneRequest(row, variant, seed, style, layout, layer, "a mug, clean studio backdrop", "text")


def backend(name: str, **over):
    from ecomctl.render import BACKENDS, load_builtins

    load_builtins()
    b = BACKENDS.get(name)({**tiny_settings(name), **over}, "cpu")
    assert b.unavailable() is None
    return b


@pytest.mark.parametrize("name", NAMES)
def test_renders_deterministic_scene_from_saved_folder(name: str):
    b = backend(name)
    first = b.render([request(seed=3), request(seed=4, variant=2)])
    assert [s.image.size for s in first] == [(96, 64), (96, 64)]
    assert all(s.image.mode == "RGB" for s in first)
    a, c = (np.asarray(s.image, dtype=np.int16) for s in first)
    assert a.std() > 0 and not np.array_equal(a, c)  # different seeds, different scenes
    again = b.render([request(seed=3)])[0]  # same seed alone (not in a batch) gives the same pixels
    assert np.abs(np.asarray(again.image, dtype=np.int16) - a).max() <= 1
    assert first[0].meta["seed"] == 3 and first[0].meta["batch"] == 2
    assert b.describe()["models"]  # every model id it uses is recorded


@pytest.mark.parametrize("name", NAMES)
def test_product_pixels_exact_after_paste(name: str):
    from ecomctl.render.paste import paste_subject

    req = request()
    scene = backend(name).render([req])[0]
    poster = np.asarray(paste_subject(scene.image, req.subject_layer), dtype=np.int16)
    inside = req.subject_mask == 255
    product = np.asarray(req.subject_layer.convert("RGB"), dtype=np.int16)
    assert inside.sum() > 500 and np.array_equal(poster[inside], product[inside])


def test_lora_changes_the_output_and_is_fused():
    base = backend("sdxl-inpaint", lora=None, scheduler="keep")
    with_lora = backend("sdxl-inpaint", scheduler="keep")
    a = np.asarray(base.render([request()])[0].image, dtype=np.int16)
    b = np.asarray(with_lora.render([request()])[0].image, dtype=np.int16)
    assert not np.array_equal(a, b)
    assert not with_lora.pipeline().get_list_adapters()  # fused then unloaded: no per-step LoRA cost


def test_sdxl_softedge_uses_two_controlnets():
    b = backend("sdxl-inpaint", softedge=tiny_settings("sdxl-inpaint")["controlnet"])
    assert b.render([request()])[0].image.size == (96, 64)
    assert len(b.pipeline().controlnet.nets) == 2


def test_speed_knobs_are_applied_and_reported():
    b = backend("flux-fill", fuse_qkv=True, cache_threshold=0.2, vae_tiling=True)
    b.render([request()])
    knobs = b.describe()["knobs"]
    assert knobs["fuse_qkv"] and knobs["first_block_cache"] == 0.2 and knobs["vae_tiling"]


def test_qwen_lightning_preset_scheduler_settings():
    b = backend("qwen-image", preset="lightning")
    cfg = b.pipeline().scheduler.config
    assert cfg.time_shift_type == "exponential" and cfg.shift == 1.0
    assert abs(cfg.base_shift - np.log(3)) < 1e-6 and abs(cfg.max_shift - np.log(3)) < 1e-6
    assert b.settings.steps == 2  # the test config's steps win over the preset's 8


def test_qwen_turbo_preset_loads_a_lora_folder_and_renders_two_steps(tmp_path: Path):
    """The default preset: base model + the turbo LoRA folder (the pinned Wuli weight file), fused, 2 steps, the
    base repo's scheduler config with the turbo overrides (tests/test_backend_schedules.py: its sigmas), no
    true-CFG pass."""
    import shutil

    from diffusers import FlowMatchEulerDiscreteScheduler

    from ecomctl.render import BACKENDS, load_builtins

    tiny = tiny_settings("qwen-image")
    lora_dir = tmp_path / "Qwen-Image-2512-Turbo-LoRA-2-Steps"
    lora_dir.mkdir()
    wuli = "Wuli-Qwen-Image-2512-Turbo-LoRA-2steps-V1.0-bf16.safetensors"
    shutil.copy(Path(tiny["lora"]) / "pytorch_lora_weights.safetensors", lora_dir / wuli)
    load_builtins()
    settings = {"model": tiny["model"], "lora": str(lora_dir), "dtype": "fp32", "max_side": None}
    turbo = BACKENDS.get("qwen-image")(settings, "cpu")
    pipe = turbo.pipeline()
    forwards: list[int] = []
    pipe.transformer.register_forward_hook(lambda *_: forwards.append(1))
    scene = turbo.render([request()])[0]
    assert scene.image.size == (96, 64) and len(forwards) == 2  # 2 steps, one pass each (guidance 1)
    shipped = FlowMatchEulerDiscreteScheduler.from_pretrained(tiny["model"], subfolder="scheduler").config
    from ecomctl.render.diffusion.qwen_image import TURBO_SCHEDULER

    expected = {k: v for k, v in {**dict(shipped), **TURBO_SCHEDULER}.items() if not k.startswith("_")}
    assert {k: pipe.scheduler.config[k] for k in expected} == expected  # the base config + the turbo overrides
    described = turbo.describe()
    assert (described["preset"], described["steps"], described["lora_file"]) == ("turbo", 2, wuli)
    assert not pipe.get_list_adapters()  # fused then unloaded
    plain = BACKENDS.get("qwen-image")({**settings, "lora": None}, "cpu").render([request()])[0]
    assert not np.array_equal(np.asarray(plain.image), np.asarray(scene.image))  # the LoRA was applied


def test_missing_weights_name_repo_and_fetch_command(monkeypatch):
    from ecomctl.render import BACKENDS, load_builtins

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    load_builtins()
    b = BACKENDS.get("sdxs")({"model": "nobody-here/sdxs-missing"}, "cpu")
    why = b.unavailable()
    assert why == ("model nobody-here/sdxs-missing (backends.sdxs.model) is not downloaded; fetch it with "
                   "`ecomctl models pull sdxs` or set backends.sdxs.model to a local folder")


@pytest.mark.parametrize("name", ["sdxs", "sdxl-inpaint"])
def test_style_share_keeps_the_reference_and_changes_the_others(name: str):
    plain = backend(name).render([request(seed=3), request(seed=4, variant=2)])
    shared_backend = backend(name, style_share=True)
    shared = shared_backend.render([request(seed=3), request(seed=4, variant=2)])
    ref_plain, ref_shared = (np.asarray(s[0].image, dtype=np.int16) for s in (plain, shared))
    assert np.abs(ref_plain - ref_shared).max() <= 2  # the reference attends to itself twice: unchanged
    assert not np.array_equal(np.asarray(plain[1].image), np.asarray(shared[1].image))
    assert shared_backend.describe()["knobs"]["style_share"]


def test_style_share_refused_for_transformer_backends():
    from ecomctl.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^config backends\.flux-fill\.style_share: only UNet backends"):
        backend("flux-fill", style_share=True).render([request()])


def test_weight_variant_is_loaded_when_configured():
    b = backend("sdxs", variant="fp16")
    assert b.render([request()])[0].image.size == (96, 64)
    from ecomctl.errors import BackendUnavailable

    with pytest.raises(BackendUnavailable, match=r"\(backends\.sdxs\.model\) cannot be loaded from .*variant=bf99"):
        backend("sdxs", variant="bf99").render([request()])


def test_cpu_offload_keeps_modules_on_the_cpu_with_hooks():
    """enable_model_cpu_offload leaves every model on the CPU with a hook that moves it to the GPU for its own
    forward; the backend must not move the whole pipeline afterwards (issue 10: pipe.to(device) undid it)."""
    from ecomctl.render import BACKENDS, load_builtins

    load_builtins()
    b = BACKENDS.get("sdxs")({**tiny_settings("sdxs"), "cpu_offload": True}, "cuda")
    pipe = b.pipeline()  # with the old pipe.to("cuda") this raised on a CPU-only torch
    assert b.describe()["knobs"]["cpu_offload"]
    for name in ("unet", "text_encoder", "vae"):
        module = getattr(pipe, name)
        assert {p.device.type for p in module.parameters()} == {"cpu"}
        assert str(module._hf_hook.execution_device).startswith("cuda")  # moved only for its forward
    assert b.pipeline() is pipe  # loaded once; a second lookup moves nothing


@pytest.mark.gpu
def test_cpu_offload_modules_back_on_the_cpu_between_calls_gpu():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    from ecomctl.render import BACKENDS, load_builtins

    load_builtins()
    b = BACKENDS.get("sdxs")({**tiny_settings("sdxs"), "cpu_offload": True}, "cuda")
    for seed in (1, 2):
        assert b.render([request(seed=seed)])[0].image.size == (96, 64)
        # the pipeline frees its hooks at the end of a call: every model is back on the CPU
        for name in ("unet", "text_encoder", "vae"):
            assert next(getattr(b.pipeline(), name).parameters()).device.type == "cpu", name
