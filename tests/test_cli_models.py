"""`ecomctl models list|check` and `ecomctl doctor`: needs, local presence and sizes, readiness with the
fix in one line, graceful without torch."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ecomctl.cli import app
from ecomctl.extras import absent

runner = CliRunner()
# what a backend says when its weights are (or are not) there needs the models extra; without it every
# diffusion backend answers "diffusers is not installed" (test_check_without_diffusers_names_the_extra)
needs_diffusers = pytest.mark.skipif(absent("diffusers"), reason="the models extra (diffusers) is not installed")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def sdxs_folder(tmp_path: Path) -> Path:
    """A local folder standing in for the SDXS repo (presence and size only; nothing is loaded)."""
    folder = tmp_path / "sdxs"
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"\0" * 4096)
    (folder / "model_index.json").write_text("{}")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"backends": {"sdxs": {"model": str(folder)}}}))
    return cfg


def test_list_json_names_every_need_with_presence_and_size(sdxs_folder: Path):
    res = runner.invoke(app, ["models", "list", "--json", "--config", str(sdxs_folder)])
    assert res.exit_code == 0, res.output
    rows = {(r["backend"], r["key"]): r for r in json.loads(res.stdout)}
    assert rows[("sdxl-inpaint", "controlnet")]["repo"] == "alimama-creative/EcomXL_controlnet_inpaint"
    assert rows[("sdxl-inpaint", "lora")]["repo"] == "alimama-creative/slam-lora-sdxl"
    assert rows[("flux-fill", "model")]["repo"] == "black-forest-labs/FLUX.1-Fill-dev"
    assert rows[("composer", "model")]["repo"] == "Qwen/Qwen-Image-Edit-2509"
    assert not rows[("qwen-image", "model")]["present"] and rows[("qwen-image", "model")]["approx_gb"] > 40
    sdxs = rows[("sdxs", "model")]
    assert sdxs["present"] and sdxs["local_bytes"] == 4096 + 2
    assert ("sdxl-inpaint", "softedge") not in rows  # optional and not configured: not needed


def test_list_table_shows_repo_ids():
    res = runner.invoke(app, ["models", "list", "--no-sizes"])
    assert res.exit_code == 0
    assert "IDKiro/sdxs-512-0.9" in res.stdout and "Qwen/Qwen-Image" in res.stdout


@needs_diffusers
def test_check_missing_exits_1_with_fetch_command():
    res = runner.invoke(app, ["models", "check", "--backend", "sdxs", "--backend", "compose"])
    assert res.exit_code == 1
    missing = ("missing sdxs: model IDKiro/sdxs-512-0.9 (backends.sdxs.model) is not downloaded; fetch it with "
               "`ecomctl models pull sdxs` or set backends.sdxs.model to a local folder")
    assert res.stdout.splitlines() == [missing, "ready  compose"]


@needs_diffusers
def test_check_ready_exits_0(sdxs_folder: Path):
    res = runner.invoke(app, ["models", "check", "-b", "sdxs", "--config", str(sdxs_folder), "--json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout) == {"sdxs": {"ready": True, "reason": None, "problems": []}}


def test_check_unknown_backend_exits_2():
    res = runner.invoke(app, ["models", "check", "-b", "sdxl"])
    assert res.exit_code == 2
    assert res.output.strip().startswith("error: unknown render backend 'sdxl'; did you mean 'sdxs'?")


def test_check_without_diffusers_names_the_extra(monkeypatch, sdxs_folder: Path):
    monkeypatch.setitem(sys.modules, "diffusers", None)  # what the default install (no extras) has
    res = runner.invoke(app, ["models", "check", "-b", "sdxs", "-b", "compose", "--config", str(sdxs_folder)])
    assert res.exit_code == 1
    missing = "missing sdxs: diffusers is not installed; install the models extra: pip install 'ecomctl[models]'"
    assert res.stdout.splitlines() == [missing, "ready  compose"]


@needs_diffusers
def test_without_torch_models_and_doctor_still_answer(monkeypatch, sdxs_folder: Path):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch → ImportError
    res = runner.invoke(app, ["models", "check", "-b", "sdxs", "--config", str(sdxs_folder)])
    assert res.exit_code == 1
    assert res.stdout.strip() == "missing sdxs: torch is not installed; install the models extra: pip install " \
                                 "'ecomctl[models]'"
    doc = runner.invoke(app, ["doctor", "--json"])
    assert doc.exit_code == 0, doc.output
    assert json.loads(doc.stdout)["torch"] == {"installed": False}


@needs_diffusers
def test_doctor_reports_environment():
    res = runner.invoke(app, ["doctor", "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert rep["fonts"]["ok"] and rep["ocr"]["engines"]["rapidocr"] is None
    assert any(m["file"].endswith(".onnx") for m in rep["ocr"]["rapidocr_models"])
    assert rep["backends"]["compose"] is None and "ecomctl models pull sdxs" in rep["backends"]["sdxs"]
    assert rep["disk"]["hf_cache"]["free_gb"] >= 0
    text = runner.invoke(app, ["doctor"])
    assert text.exit_code == 0 and "font" in text.stdout and "backend sdxs" in text.stdout


def test_list_shows_wuli_turbo_lora_and_ip_adapter_weights(tmp_path: Path):
    res = runner.invoke(app, ["models", "list", "--json", "--no-sizes"])
    assert res.exit_code == 0, res.output
    rows = {(r["backend"], r["key"]): r for r in json.loads(res.stdout)}
    turbo = rows[("qwen-image", "lora")]
    assert turbo["repo"] == "Wuli-art/Qwen-Image-2512-Turbo-LoRA-2-Steps" and turbo["used"]
    assert rows[("qwen-image", "model")]["repo"] == "Qwen/Qwen-Image-2512"
    ip = rows[("sdxl-inpaint", "ip_adapter")]
    assert ip["repo"] == "h94/IP-Adapter" and not ip["used"] and not ip["required"]
    assert "sdxl_models/ip-adapter_sdxl.safetensors + sdxl_models/image_encoder/" in ip["role"]
    assert "(off: style_ip is false)" in ip["role"]
    assert ("sdxs", "ip_adapter") not in rows  # no IP-Adapter fits SDXS unless configured
    cfg = tmp_path / "ip.yaml"
    cfg.write_text(yaml.safe_dump({"backends": {"sdxl-inpaint": {"style_ip": True}}}))
    res = runner.invoke(app, ["models", "list", "--json", "--no-sizes", "--config", str(cfg)])
    ip = {(r["backend"], r["key"]): r for r in json.loads(res.stdout)}[("sdxl-inpaint", "ip_adapter")]
    assert ip["used"] and "(off" not in ip["role"]
    table = runner.invoke(app, ["models", "list", "--no-sizes"], env={"COLUMNS": "250"})
    assert "Wuli-art/Qwen-Image-2512-Turbo-LoRA-2-Steps" in table.stdout and "h94/IP-Adapter" in table.stdout


@needs_diffusers
def test_check_needs_the_ip_adapter_only_when_style_ip_is_on(tmp_path: Path, sdxs_folder: Path):
    data = yaml.safe_load(sdxs_folder.read_text())
    data["backends"]["sdxs"].update(style_ip=True, ip_adapter="nobody/ip-missing")
    cfg = tmp_path / "on.yaml"
    cfg.write_text(yaml.safe_dump(data))
    assert runner.invoke(app, ["models", "check", "-b", "sdxs", "-c", str(sdxs_folder)]).exit_code == 0
    res = runner.invoke(app, ["models", "check", "-b", "sdxs", "-c", str(cfg)])
    assert res.exit_code == 1 and "nobody/ip-missing (backends.sdxs.ip_adapter) is not downloaded" in res.stdout


def _sdxl_folders(tmp_path: Path, fp16: bool, lora_file: str | None) -> Path:
    """Local folders standing in for SDXL base, the EcomXL ControlNet and the SLAM LoRA (files only)."""
    base = tmp_path / "sdxl"
    index = {"_class_name": "StableDiffusionXLPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
             "vae": ["diffusers", "AutoencoderKL"], "tokenizer": ["transformers", "CLIPTokenizer"],
             "scheduler": ["diffusers", "EulerDiscreteScheduler"], "image_encoder": [None, None]}
    for part in ("unet", "vae"):
        (base / part).mkdir(parents=True)
        (base / part / "config.json").write_text("{}")
        (base / part / "diffusion_pytorch_model.safetensors").write_bytes(b"\0")
        if fp16:
            (base / part / "diffusion_pytorch_model.fp16.safetensors").write_bytes(b"\0")
    (base / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    (base / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"\0")  # pickled only: never loaded
    for part, name in (("tokenizer", "vocab.json"), ("scheduler", "scheduler_config.json")):
        (base / part).mkdir()
        (base / part / name).write_text("{}")
    (base / "model_index.json").write_text(json.dumps(index))
    net = tmp_path / "controlnet"
    net.mkdir()
    (net / "config.json").write_text("{}")
    lora = tmp_path / "lora"
    lora.mkdir()
    if lora_file:
        (lora / lora_file).write_bytes(b"\0")
    cfg = tmp_path / "sdxl.yaml"
    cfg.write_text(yaml.safe_dump({"backends": {"sdxl-inpaint": {
        "base": str(base), "controlnet": str(net), "lora": str(lora), "lora_weight": "slam.safetensors",
        "dtype": "fp16"}}}))
    return cfg


@needs_diffusers
def test_check_backend_lists_every_problem_of_the_local_folders(tmp_path: Path):
    """An fp16 run: unet/ holds only a pickled .bin, vae/ no fp16 files, the ControlNet no weights, the LoRA
    folder another file than the one named: one line each, exit 1."""
    cfg = _sdxl_folders(tmp_path, fp16=False, lora_file="other.safetensors")
    data = yaml.safe_load(cfg.read_text())
    data["backends"]["sdxl-inpaint"]["fp16_vae"] = None  # keep this test to the three folders above
    cfg.write_text(yaml.safe_dump(data))
    res = runner.invoke(app, ["models", "check", "sdxl-inpaint", "-c", str(cfg)])
    assert res.exit_code == 1, res.output
    lines = res.stdout.splitlines()
    where = "missing sdxl-inpaint: "
    base, net, lora = (f"{where}{k} ({tmp_path / f}, backends.sdxl-inpaint.{k}): "
                       for k, f in (("base", "sdxl"), ("controlnet", "controlnet"), ("lora", "lora")))
    weights = "has no safetensors weights (diffusion_pytorch_model / model .safetensors)"
    assert lines == [f"{base}unet/ {weights}", f"{base}vae/ has no fp16 weights (variant fp16)",
                     f"{net}the folder {weights}",
                     f"{lora}no LoRA file slam.safetensors (backends.sdxl-inpaint.lora_weight)"]


@needs_diffusers
def test_check_backend_ready_when_the_files_match(tmp_path: Path):
    cfg = _sdxl_folders(tmp_path, fp16=True, lora_file="slam.safetensors")
    (tmp_path / "controlnet" / "diffusion_pytorch_model.safetensors").write_bytes(b"\0")
    data = yaml.safe_load(cfg.read_text())
    data["backends"]["sdxl-inpaint"].update(fp16_vae=str(tmp_path / "controlnet"), dtype="fp16")
    cfg.write_text(yaml.safe_dump(data))
    res = runner.invoke(app, ["models", "check", "sdxl-inpaint", "-c", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"sdxl-inpaint": {"ready": True, "reason": None, "problems": []}}
