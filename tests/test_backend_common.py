"""Shared diffusion steps without models: working size, outpaint mask, EcomXL control image, edge
harmonisation, settings validation, model lookup and the one-line fixes for missing weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ecomctl.errors import BackendUnavailable, ConfigError
from ecomctl.render.diffusion import canvas
from ecomctl.render.diffusion.loading import Loader, fetch_hint, locate
from ecomctl.render.diffusion.sdxs import SdxsBackend
from ecomctl.types import Box, Layout, SceneRequest, Size, SkuRow, Style


def _request(size: Size | None = None) -> SceneRequest:
    size = size or Size(80, 60)
    layer = Image.new("RGBA", size.tuple, (0, 0, 0, 0))
    ImageDraw.Draw(layer).rectangle((30, 20, 49, 39), fill=(200, 40, 40, 255))
    row = SkuRow(sku="S", image=Path("p.png"), title="t", size=size)
    layout = Layout(size, "x", Box(30, 20, 50, 40), ())
    return SceneRequest(row, 1, 0, Style("s", ((255, 255, 255),)), layout, layer, "p")


def test_work_size_caps_long_side_and_aligns():
    assert canvas.work_size(Size(1080, 1350), 64, 512) == Size(384, 512)
    assert canvas.work_size(Size(1024, 1024), 64, None) == Size(1024, 1024)
    assert canvas.work_size(Size(100, 30), 32, None) == Size(96, 32)


def test_outpaint_mask_generates_outside_and_grows_into_the_edge():
    req = _request()
    plain = np.asarray(canvas.outpaint_mask(req, req.size, dilate=0))
    grown = np.asarray(canvas.outpaint_mask(req, req.size, dilate=3))
    assert plain[30, 40] == 0 and plain[5, 5] == 255 and plain[20, 30] == 0
    assert grown[22, 32] == 255 and grown[30, 40] == 0  # 3 px into the product edge, not its middle


def test_init_image_and_ecomxl_control_mark_generated_pixels_minus_one():
    req = _request()
    init = canvas.init_image(req, req.size)
    assert init.getpixel((5, 5)) == canvas.NEUTRAL and init.getpixel((40, 30)) == (200, 40, 40)
    ctrl = canvas.ecomxl_control(init, canvas.outpaint_mask(req, req.size, dilate=0))
    assert ctrl.shape == (1, 3, 60, 80)
    assert (ctrl[0, :, 5, 5] == -1).all() and np.allclose(ctrl[0, :, 30, 40], np.array([200, 40, 40]) / 255)


def test_harmonize_pulls_only_the_ring_toward_the_product():
    req = _request()
    scene = Image.new("RGB", req.size.tuple, (40, 40, 200))
    out = np.asarray(canvas.harmonize(scene, req, strength=0.5, ring=8), dtype=int)
    near, far = out[30, 28], out[30, 2]  # 2 px left of the product / far away
    assert near[0] > 40 and near[2] < 200  # toward the product's red
    assert tuple(far) == (40, 40, 200)
    assert canvas.harmonize(scene, req, strength=0) is scene


def test_glyph_image_is_white_text_on_black():
    from ecomctl.types import TextLine

    req = _request(Size(200, 100))
    line = TextLine("title", "Sale", Box(10, 10, 90, 40), 28, 700, (0, 0, 0))
    req = SceneRequest(req.row, 1, 0, req.style, Layout(req.size, "x", req.layout.subject_box, (line,)),
                       req.subject_layer, "p")
    glyph = np.asarray(canvas.glyph_image(req, req.size))
    assert glyph[10:40, 10:90].max() == 255 and glyph[60:, 100:].max() == 0


def test_settings_are_validated_with_config_path():
    with pytest.raises(ConfigError, match=r"^config backends\.sdxs\.stepz: Extra inputs are not permitted$"):
        SdxsBackend({"stepz": 2}, "cpu")
    with pytest.raises(ConfigError, match=r"^config backends\.sdxs\.dtype: "):
        SdxsBackend({"dtype": "fp8"}, "cpu")


def test_locate_folder_hub_id_and_hints(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert locate(str(tmp_path)) == tmp_path
    assert locate(str(tmp_path / "nope")) is None and locate("owner/not-cached") is None
    assert fetch_hint(str(tmp_path / "nope"), "backends.sdxs.model") == (
        f"model folder {tmp_path / 'nope'} (backends.sdxs.model) does not exist")
    b = SdxsBackend({"model": str(tmp_path / "nope")}, "cpu")
    assert b.unavailable() == f"model folder {tmp_path / 'nope'} (backends.sdxs.model) does not exist"


def test_broken_local_folder_is_backend_unavailable(tmp_path: Path):
    pytest.importorskip("diffusers")
    b = SdxsBackend({"model": str(tmp_path)}, "cpu")  # exists, but holds no pipeline
    with pytest.raises(BackendUnavailable) as err:
        Loader(b, None).load(b.pipeline_class(), "model")
    assert str(err.value).startswith(f"model {tmp_path} (backends.sdxs.model) cannot be loaded from {tmp_path}: ")
    assert "\n" not in str(err.value)


def test_downloads_only_when_allowed_and_online(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert SdxsBackend({}, "cpu").local_only  # default: weights must already be local
    assert not SdxsBackend({"allow_download": True}, "cpu").local_only
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert SdxsBackend({"allow_download": True}, "cpu").local_only


def test_qwen_presets_turbo_default_lightning_option_config_wins():
    from ecomctl.render.diffusion.qwen_image import QwenImageSettings

    turbo = QwenImageSettings()
    assert (turbo.preset, turbo.model, turbo.lora, turbo.lora_weight, turbo.steps, turbo.scheduler,
            turbo.guidance) == ("turbo", "Qwen/Qwen-Image-2512", "Wuli-art/Qwen-Image-2512-Turbo-LoRA-2-Steps",
                                "Wuli-Qwen-Image-2512-Turbo-LoRA-2steps-V1.0-bf16.safetensors", 2, "turbo", 1.0)
    light = QwenImageSettings(preset="lightning")
    assert (light.model, light.lora, light.lora_weight, light.steps, light.scheduler) == (
        "Qwen/Qwen-Image", "lightx2v/Qwen-Image-Lightning", "Qwen-Image-Lightning-8steps-V1.1.safetensors", 8,
        "lightning")
    assert QwenImageSettings(preset="lightning", steps=4).steps == 4
    with pytest.raises(ConfigError, match=r"^config backends\.qwen-image\.preset"):
        from ecomctl.config import validate_section

        validate_section(QwenImageSettings, {"preset": "warp"}, "backends.qwen-image")


def test_pick_lora_file_follows_diffusers_choice():
    from ecomctl.render.diffusion.loading import pick_lora_file

    assert pick_lora_file(["b.safetensors", "a.safetensors", "README.md"]) == "a.safetensors"
    assert pick_lora_file(["x.safetensors", "pytorch_lora_weights.safetensors"]) == "pytorch_lora_weights.safetensors"
    assert pick_lora_file(["scheduler.safetensors", "sub/w.safetensors", "w.bin"]) is None


def test_scene_prompt_of_a_prompt_only_backend_describes_an_empty_setting():
    """sdxs draws the whole scene from the prompt and the product is pasted over it: asking for "a mug standing
    in the scene" made it draw a second mug (guidance 0 ignores the negative prompt)."""
    from ecomctl.render.prompt import build_prompt
    from ecomctl.types import SkuRow, Style

    row = SkuRow(sku="S", image=Path("p.png"), title="t", size=Size(64, 64), subject="ceramic mug",
                 prompt="marble kitchen counter")
    style = Style("s", ((255, 255, 255),), prompt="soft morning light, minimal product photography")
    outpaint = build_prompt(row, style, "product")
    empty = build_prompt(row, style, "product", empty_scene=True)
    assert "a ceramic mug standing in the scene" in outpaint
    assert "mug" not in empty and "product" not in empty and "standing" not in empty
    assert empty.startswith("marble kitchen counter, empty display scene") and "soft morning light" in empty
    mug_prompt = SkuRow(sku="S", image=Path("p.png"), title="t", size=Size(64, 64), subject="ceramic mug",
                        prompt="a mug on a marble counter, warm tones")
    assert build_prompt(mug_prompt, style, empty_scene=True).startswith("warm tones, empty display scene")
    from ecomctl.render.diffusion.sdxl_inpaint import SdxlInpaintBackend

    assert SdxsBackend.EMPTY_SCENE and not getattr(SdxlInpaintBackend, "EMPTY_SCENE", False)


def test_render_key_follows_a_diffusion_backends_defaults(tmp_path: Path, monkeypatch):
    """A changed default (here the turbo schedule, sdxs's steps) re-renders stored posters; compose keys stay."""
    from ecomctl import render
    from ecomctl.config import load_config
    from ecomctl.engine.item import RunContext

    assert render.resolved_settings("compose", {}) is None
    qwen = render.resolved_settings("qwen-image", {})
    assert (qwen["scheduler"], qwen["lora_weight"], qwen["steps"]) == (
        "turbo", "Wuli-Qwen-Image-2512-Turbo-LoRA-2steps-V1.0-bf16.safetensors", 2)
    assert render.resolved_settings("sdxs", {"steps": 2})["dtype"] == "fp32"

    def digest(name: str) -> str:
        return RunContext(load_config(None), tmp_path, {}, name).settings_digest

    before = {name: digest(name) for name in ("compose", "sdxs")}
    real = render.resolved_settings
    monkeypatch.setattr("ecomctl.engine.item.resolved_settings",
                        lambda n, s: None if real(n, s) is None else {**real(n, s), "steps": 9})
    assert digest("compose") == before["compose"] and digest("sdxs") != before["sdxs"]
