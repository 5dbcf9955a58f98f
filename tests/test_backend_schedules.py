"""The call each diffusion backend makes, on tiny random models loaded through the real from_pretrained path with
the schedulers built from the published scheduler configs (tests/fixtures): steps, schedule (sigmas / timesteps
the denoiser actually sees), guidance, precision, weight files, and what the sidecar records."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from tests.test_backend_models import backend, request
from tests.tiny_models import tiny_settings

pytest.importorskip("diffusers")
pytestmark = pytest.mark.models

WULI = "Wuli-Qwen-Image-2512-Turbo-LoRA-2steps-V1.0-bf16.safetensors"


def _denoiser_timesteps(net) -> list[float]:
    """Every timestep the denoiser's forward receives (the pipeline's own scaling applied)."""
    seen: list[float] = []

    def hook(_module, args, kwargs):
        t = kwargs.get("timestep", args[1] if len(args) > 1 else None)
        seen.append(round(float(t.flatten()[0]), 4))

    net.register_forward_pre_hook(hook, with_kwargs=True)
    return seen


def _recorded_call(monkeypatch, pipe, run: bool = True) -> list[dict]:
    """Record the arguments of every call of `pipe`; `run=False` answers grey images without running it."""
    calls: list[dict] = []
    original = type(pipe).__call__

    def call(self, *args, **kwargs):
        calls.append(kwargs)
        if run:
            return original(self, *args, **kwargs)
        n = len(kwargs["prompt"]) if isinstance(kwargs.get("prompt"), list) else 1
        return SimpleNamespace(images=[Image.new("RGB", (kwargs["width"], kwargs["height"]), (128,) * 3)] * n)

    monkeypatch.setattr(type(pipe), "__call__", call)
    return calls


def _turbo_lora(tmp_path: Path) -> Path:
    """The tiny LoRA saved under the Wuli 2-step file name, in a folder like the hub repo."""
    folder = tmp_path / "Qwen-Image-2512-Turbo-LoRA-2-Steps"
    folder.mkdir()
    shutil.copy(Path(tiny_settings("qwen-image")["lora"]) / "pytorch_lora_weights.safetensors", folder / WULI)
    (folder / "README.md").write_text("tiny stand-in\n")
    return folder


def test_qwen_turbo_runs_the_two_step_schedule_of_its_integrations(tmp_path: Path):
    """Default preset: Qwen-Image(-2512)'s published scheduler config with the turbo overrides (mu ln 2.5,
    shift_terminal 0.7155) -> sigmas [1.0, 0.7155, 0]; the base config alone ran [1.0, 0.02, 0]."""
    from ecomctl.render import BACKENDS, load_builtins

    load_builtins()
    tiny = tiny_settings("qwen-image")
    settings = {"model": tiny["model"], "lora": str(_turbo_lora(tmp_path)), "dtype": "fp32", "max_side": None}
    turbo = BACKENDS.get("qwen-image")(settings, "cpu")  # preset turbo: every other key from the preset
    pipe = turbo.pipeline()
    seen = _denoiser_timesteps(pipe.transformer)
    scene = turbo.render([request()])[0]
    assert scene.meta["scheduler"] == "FlowMatchEulerDiscreteScheduler"
    assert scene.meta["sigmas"] == [1.0, 0.7155, 0.0]
    assert seen == [1.0, 0.7155]  # 2 steps, one denoiser pass each (no true-CFG pass)
    cfg = pipe.scheduler.config
    assert abs(cfg.base_shift - np.log(2.5)) < 1e-9 and abs(cfg.max_shift - np.log(2.5)) < 1e-9  # mu = ln 2.5
    assert cfg.shift_terminal == 0.7155 and cfg.use_dynamic_shifting and cfg.time_shift_type == "exponential"
    described = turbo.describe()
    assert (described["preset"], described["steps"], described["scheduler"], described["lora_file"]) == (
        "turbo", 2, "turbo", WULI)  # the pinned file, not "the one diffusers picks"
    assert not pipe.get_list_adapters()  # fused then unloaded
    kept = BACKENDS.get("qwen-image")({**settings, "scheduler": "keep"}, "cpu")
    assert kept.render([request()])[0].meta["sigmas"] == [1.0, 0.02, 0.0]  # the defect this fixes


def test_qwen_turbo_schedule_does_not_depend_on_the_image_size(tmp_path: Path):
    """mu is fixed (base_shift = max_shift), so a 4-step run has the same sigmas at any working size."""
    from dataclasses import replace

    from ecomctl.types import Size

    b = backend("qwen-image", steps=4, scheduler="turbo")
    small = b.render([request()])[0].meta["sigmas"]
    r, big = request(), Size(192, 128)
    big_req = replace(r, layout=replace(r.layout, canvas=big), subject_layer=r.subject_layer.resize(big.tuple))
    assert b.work_size(big) == big != b.work_size(r.size)
    large = b.render([big_req])[0].meta["sigmas"]
    assert small == large and small[0] == 1.0 and small[3] == 0.7155 and small[-1] == 0.0


@pytest.mark.parametrize("scheduler", ["keep", "euler", "euler_a", "ddim", "dpm", "lcm"])
def test_sdxs_one_step_from_t999_with_the_shipped_and_common_schedulers(monkeypatch, scheduler: str):
    """The card: num_inference_steps=1, guidance_scale=0 (no `timesteps=[999]`, which most schedulers refuse);
    the repo's EulerDiscrete (trailing spacing) and each swap-in start the one step at t = 999."""
    b = backend("sdxs", scheduler=scheduler)
    pipe = b.pipeline()
    seen = _denoiser_timesteps(pipe.unet)
    calls = _recorded_call(monkeypatch, pipe)
    scene = b.render([request()])[0]
    (call,) = calls
    assert call["num_inference_steps"] == 1 and call["guidance_scale"] == 0.0 and "timesteps" not in call
    assert call["negative_prompt"] is None  # guidance 0: a negative prompt would be ignored anyway
    assert call["prompt"] == [request().prompt]
    assert seen == [999.0] and scene.meta["timesteps"] == [999.0]
    if scheduler == "keep":
        assert scene.meta["scheduler"] == "EulerDiscreteScheduler"  # what IDKiro/sdxs-512-0.9 ships
    assert np.asarray(scene.image).std() > 0


def test_sdxs_runs_in_float32_by_default():
    """The card: TAESD 'may produce low-quality images when weight_type is float16'."""
    import torch

    from ecomctl.render import BACKENDS, load_builtins

    load_builtins()
    settings = {k: v for k, v in tiny_settings("sdxs").items() if k != "dtype"}
    b = BACKENDS.get("sdxs")(settings, "cpu")
    assert b.settings.dtype == "fp32" and b.describe()["dtype"] == "fp32"
    pipe = b.pipeline()
    assert pipe.unet.dtype == torch.float32 and pipe.vae.dtype == torch.float32


def test_sdxl_in_fp16_loads_the_fp16_files_and_the_fp16_fix_vae(monkeypatch):
    import diffusers
    import torch

    loads: list[tuple[str, str, object]] = []
    for cls in (diffusers.StableDiffusionXLControlNetPipeline, diffusers.AutoencoderKL):
        original = cls.from_pretrained.__func__

        def spy(klass, src, *a, _original=original, **kw):
            loads.append((klass.__name__, str(src), kw.get("variant")))
            return _original(klass, src, *a, **kw)

        monkeypatch.setattr(cls, "from_pretrained", classmethod(spy))
    b = backend("sdxl-inpaint", dtype="fp16")
    pipe = b.pipeline()
    tiny = tiny_settings("sdxl-inpaint")
    base_vae = str(Path(tiny["base"]) / "vae")
    assert ("StableDiffusionXLControlNetPipeline", tiny["base"], "fp16") in loads
    assert ("AutoencoderKL", tiny["fp16_vae"], None) in loads and not any(src == base_vae for _, src, _ in loads)
    assert pipe.unet.dtype == torch.float16 and pipe.vae.dtype == torch.float16
    assert b.describe()["models"]["fp16_vae"] == tiny["fp16_vae"] and b.describe()["variant"] == "fp16"
    loads.clear()
    backend("sdxl-inpaint").pipeline()  # fp32: the full-precision files, the base repo's own VAE
    assert ("StableDiffusionXLControlNetPipeline", tiny["base"], None) in loads
    assert not any(src == tiny["fp16_vae"] for _, src, _ in loads)


def test_flux_fill_calls_with_the_card_settings(monkeypatch):
    from ecomctl.render import BACKENDS, load_builtins

    load_builtins()
    settings = {k: v for k, v in tiny_settings("flux-fill").items() if k not in ("steps", "guidance")}
    b = BACKENDS.get("flux-fill")(settings, "cpu")  # steps and guidance from the default preset
    calls = _recorded_call(monkeypatch, b.pipeline(), run=False)
    scene = b.render([request()])[0]
    (call,) = calls
    assert (call["num_inference_steps"], call["guidance_scale"], call["max_sequence_length"]) == (50, 30.0, 512)
    assert scene.meta["prompt"] == request().prompt and b.describe()["preset"] == "card"


def test_sdxl_calls_with_lcm_four_steps_at_the_bucket_size(monkeypatch):
    """The defaults reach the call: LCMScheduler (SLAM LoRA), 4 steps, guidance 1, control scale 0.5, and the
    working size is the SDXL bucket (96x64 canvas, aspect 1.5 -> 1216x832), not the canvas fitted."""
    from ecomctl.render import BACKENDS, load_builtins

    load_builtins()
    drop = ("steps", "guidance", "sizing")
    settings = {k: v for k, v in tiny_settings("sdxl-inpaint").items() if k not in drop}
    b = BACKENDS.get("sdxl-inpaint")(settings, "cpu")
    pipe = b.pipeline()
    calls = _recorded_call(monkeypatch, pipe, run=False)
    scene = b.render([request()])[0]
    (call,) = calls
    assert (call["num_inference_steps"], call["guidance_scale"], call["controlnet_conditioning_scale"]) == (4, 1.0, 0.5)
    assert (call["width"], call["height"]) == (1216, 832) and scene.meta["work_size"] == "1216x832"
    assert type(pipe.scheduler).__name__ == "LCMScheduler" and scene.image.size == (96, 64)
    control = call["image"].numpy()
    assert control.shape == (1, 3, 832, 1216) and (control[0, :, 0, 0] == -1).all()  # repainted pixels: -1
