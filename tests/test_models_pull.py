"""`ecomctl models pull`: the files each backend loads, planned from fake hub listings (no network), fetched
through a fake hub into a real Hugging Face cache layout so `models check` then finds them; the real Hub class
hands the plan, endpoint and revision to huggingface_hub; HF_HUB_OFFLINE refuses with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ecomctl.cli import app
from ecomctl.errors import BackendUnavailable
from ecomctl.render.diffusion import inventory, pull

runner = CliRunner()


@pytest.fixture(autouse=True)
def _online_but_fake(monkeypatch):
    """Planning and fetching go through FakeHub or a patched huggingface_hub: nothing reaches a network."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
SD_INDEX = {"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
            "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
            "vae": ["diffusers", "AutoencoderTiny"], "scheduler": ["diffusers", "EulerDiscreteScheduler"],
            "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
            "feature_extractor": ["transformers", "CLIPImageProcessor"], "image_encoder": [None, None]}
TOKENIZER = ["merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json"]


def model(folder: str, fp16: bool = True, shards: int = 1, name: str = "diffusion_pytorch_model") -> list[str]:
    files = [f"{folder}/config.json", f"{folder}/{name}.bin"]
    if shards == 1:
        files += [f"{folder}/{name}.safetensors"] + ([f"{folder}/{name}.fp16.safetensors"] if fp16 else [])
    else:
        files += [f"{folder}/{name}.safetensors.index.json"] + [
            f"{folder}/{name}-{i:05d}-of-{shards:05d}.safetensors" for i in range(1, shards + 1)]
    return files


def sd_repo() -> list[str]:
    return (["model_index.json", "README.md", "sdxs.ckpt", "scheduler/scheduler_config.json",
             "safety_checker/config.json", "safety_checker/model.safetensors", "feature_extractor/preprocessor_config.json"]
            + model("unet") + model("text_encoder", name="model") + model("vae", fp16=False)
            + [f"tokenizer/{t}" for t in TOKENIZER])


class FakeHub:
    """Listings and model_index.json per repo; `download` writes the files as a real HF cache snapshot."""

    def __init__(self, repos: dict[str, list[str]], index: dict[str, dict] | None = None, cache: Path | None = None):
        self.repos, self.index, self.cache, self.downloads = repos, index or {}, cache, []

    def listing(self, repo):
        if repo not in self.repos:
            raise OSError(f"404 Client Error: Repository Not Found for url: https://hub/api/models/{repo}")
        return {f: 1000 * (i + 1) for i, f in enumerate(self.repos[repo])}, "0123abcd" * 5

    def read_json(self, repo, name, revision):
        return self.index[repo]

    def download(self, repo, files, revision):
        self.downloads.append((repo, files, revision))
        root = self.cache / f"models--{repo.replace('/', '--')}"
        for f in files:
            (root / "snapshots" / revision / f).parent.mkdir(parents=True, exist_ok=True)
            (root / "snapshots" / revision / f).write_bytes(b"\0" * 8)
        if "model_index.json" in files:  # `models check` reads it
            (root / "snapshots" / revision / "model_index.json").write_text(json.dumps(self.index[repo]))
        (root / "refs").mkdir(parents=True, exist_ok=True)
        (root / "refs" / "main").write_text(revision)
        return root / "snapshots" / revision


def planned(name: str, settings: dict, repos: dict[str, list[str]], index: dict[str, dict] | None = None):
    plans = pull.plan(inventory.instance(name, settings), FakeHub(repos, index))
    return {p.key: list(p.files) for p in plans}


def test_sdxs_pulls_the_components_it_loads_plain_or_fp16():
    repos, index = {"IDKiro/sdxs-512-0.9": sd_repo()}, {"IDKiro/sdxs-512-0.9": SD_INDEX}
    plain = ["model_index.json", "scheduler/scheduler_config.json", "text_encoder/config.json",
             "text_encoder/model.safetensors", *[f"tokenizer/{t}" for t in TOKENIZER], "unet/config.json",
             "unet/diffusion_pytorch_model.safetensors", "vae/config.json", "vae/diffusion_pytorch_model.safetensors"]
    assert planned("sdxs", {}, repos, index) == {"model": plain}
    fp16 = planned("sdxs", {"variant": "fp16"}, repos, index)["model"]
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in fp16 and "text_encoder/model.fp16.safetensors" in fp16
    assert "unet/diffusion_pytorch_model.safetensors" not in fp16
    assert "vae/diffusion_pytorch_model.safetensors" in fp16  # no fp16 file there: diffusers loads the plain one


def test_sdxl_inpaint_base_controlnet_lora_and_ip_adapter_only_when_on():
    base_index = {**SD_INDEX, "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
                  "tokenizer_2": ["transformers", "CLIPTokenizer"], "vae": ["diffusers", "AutoencoderKL"],
                  "safety_checker": [None, None], "feature_extractor": [None, None]}
    base = ["model_index.json", "sd_xl_base_1.0.safetensors", "scheduler/scheduler_config.json",
            "vae_1_0/diffusion_pytorch_model.safetensors", *model("unet"), *model("text_encoder", name="model"),
            *model("text_encoder_2", name="model"), *model("vae"), *[f"tokenizer/{t}" for t in TOKENIZER],
            *[f"tokenizer_2/{t}" for t in TOKENIZER]]
    repos = {"stabilityai/stable-diffusion-xl-base-1.0": base,
             "alimama-creative/EcomXL_controlnet_inpaint": ["README.md", "images/x.png", *model("", fp16=True)],
             "alimama-creative/slam-lora-sdxl": ["README.md", "pytorch_lora_weights.safetensors"],
             "h94/IP-Adapter": ["sdxl_models/ip-adapter_sdxl.bin", "sdxl_models/ip-adapter_sdxl.safetensors",
                                "sdxl_models/ip-adapter-plus_sdxl_vit-h.safetensors", "models/ip-adapter_sd15.safetensors",
                                "sdxl_models/image_encoder/config.json", "sdxl_models/image_encoder/model.safetensors",
                                "sdxl_models/image_encoder/pytorch_model.bin", "models/image_encoder/model.safetensors"]}
    repos["madebyollin/sdxl-vae-fp16-fix"] = ["README.md", "config.json", "diffusion_pytorch_model.bin",
                                              "diffusion_pytorch_model.safetensors", "sdxl_vae.safetensors",
                                              "sdxl.vae.safetensors"]
    repos["alimama-creative/EcomXL_controlnet_inpaint"] = [f.lstrip("/") for f in repos[
        "alimama-creative/EcomXL_controlnet_inpaint"]]
    index = {"stabilityai/stable-diffusion-xl-base-1.0": base_index}
    off = planned("sdxl-inpaint", {"variant": "fp16"}, repos, index)
    # IP-Adapter files only with style_ip; dtype auto may be fp16 on the GPU that runs it: the fp16-fix VAE too
    assert set(off) == {"base", "controlnet", "lora", "fp16_vae"}
    assert off["fp16_vae"] == ["config.json", "diffusion_pytorch_model.safetensors"]  # not its single-file copies
    assert set(planned("sdxl-inpaint", {"dtype": "bf16"}, repos, index)) == {"base", "controlnet", "lora"}
    assert off["controlnet"] == ["config.json", "diffusion_pytorch_model.safetensors"]
    assert off["lora"] == ["pytorch_lora_weights.safetensors"]
    assert "sd_xl_base_1.0.safetensors" not in off["base"] and not any("vae_1_0" in f for f in off["base"])
    assert all(f.endswith(".fp16.safetensors") for f in off["base"] if f.endswith(".safetensors"))
    assert any(f.startswith("tokenizer_2/") for f in off["base"])
    on = planned("sdxl-inpaint", {"style_ip": True}, repos, index)
    assert on["base"] == off["base"]  # variant auto: the fp16 files SDXL runs from in half precision
    assert on["ip_adapter"] == ["sdxl_models/ip-adapter_sdxl.safetensors", "sdxl_models/image_encoder/config.json",
                                "sdxl_models/image_encoder/model.safetensors"]


QWEN_INDEX = {"_class_name": "QwenImagePipeline", "transformer": ["diffusers", "QwenImageTransformer2DModel"],
              "text_encoder": ["transformers", "Qwen2_5_VLForConditionalGeneration"],
              "tokenizer": ["transformers", "Qwen2Tokenizer"], "vae": ["diffusers", "AutoencoderKLQwenImage"],
              "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"]}


def qwen_repo(extra: list[str] | None = None) -> list[str]:
    return (["model_index.json", "scheduler/scheduler_config.json", *model("transformer", shards=3),
             *model("text_encoder", shards=2, name="model"), *model("vae", fp16=False), "tokenizer/vocab.json",
             "tokenizer/merges.txt", "tokenizer/tokenizer_config.json"] + (extra or []))


def test_qwen_turbo_pulls_only_the_one_lora_file_and_lightning_the_named_one():
    wuli = ["README.md", "Wuli-Qwen-Image-2512-Turbo-LoRA-2steps-V1.0-bf16.safetensors"]
    lightning = ["Qwen-Image-Lightning-4steps-V1.0.safetensors", "Qwen-Image-Lightning-8steps-V1.1.safetensors",
                 "Qwen-Image-Lightning-8steps-V1.1-bf16.safetensors", "README.md"]
    repos = {"Qwen/Qwen-Image-2512": qwen_repo(), "Qwen/Qwen-Image": qwen_repo(),
             "Wuli-art/Qwen-Image-2512-Turbo-LoRA-2-Steps": wuli, "lightx2v/Qwen-Image-Lightning": lightning}
    index = {"Qwen/Qwen-Image-2512": QWEN_INDEX, "Qwen/Qwen-Image": QWEN_INDEX}
    turbo = planned("qwen-image", {}, repos, index)
    assert turbo["lora"] == ["Wuli-Qwen-Image-2512-Turbo-LoRA-2steps-V1.0-bf16.safetensors"]
    assert "transformer/diffusion_pytorch_model.safetensors.index.json" in turbo["model"]
    assert sum(f.startswith("transformer/diffusion_pytorch_model-") for f in turbo["model"]) == 3
    light = planned("qwen-image", {"preset": "lightning"}, repos, index)
    assert light["lora"] == ["Qwen-Image-Lightning-8steps-V1.1.safetensors"]


def test_composer_and_flux_fill_pull_processor_and_t5_files():
    edit_index = {**QWEN_INDEX, "processor": ["transformers", "Qwen2VLProcessor"]}
    processor = ["processor/preprocessor_config.json", "processor/chat_template.jinja", "processor/vocab.json"]
    lora = "Qwen-Image-Edit-2509/Qwen-Image-Edit-2509-Lightning-4steps-V1.0-bf16.safetensors"
    repos = {"Qwen/Qwen-Image-Edit-2509": qwen_repo(processor), "lightx2v/Qwen-Image-Lightning": [lora, "x.safetensors"]}
    got = planned("composer", {}, repos, {"Qwen/Qwen-Image-Edit-2509": edit_index})
    assert set(processor) <= set(got["model"]) and got["lora"] == [lora]
    flux_index = {"transformer": ["diffusers", "FluxTransformer2DModel"], "text_encoder": ["transformers", "CLIPTextModel"],
                  "text_encoder_2": ["transformers", "T5EncoderModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
                  "tokenizer_2": ["transformers", "T5TokenizerFast"], "vae": ["diffusers", "AutoencoderKL"],
                  "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"]}
    flux = ["model_index.json", "flux1-fill-dev.safetensors", "ae.safetensors", *model("transformer", shards=3),
            *model("text_encoder", name="model"), *model("text_encoder_2", shards=2, name="model"),
            *model("vae"), "tokenizer_2/spiece.model", "tokenizer_2/tokenizer.json", *[f"tokenizer/{t}" for t in TOKENIZER]]
    files = planned("flux-fill", {}, {"black-forest-labs/FLUX.1-Fill-dev": flux},
                    {"black-forest-labs/FLUX.1-Fill-dev": flux_index})["model"]
    assert "tokenizer_2/spiece.model" in files and "flux1-fill-dev.safetensors" not in files
    assert "ae.safetensors" not in files and not any(f.endswith(".bin") for f in files)


def test_missing_weight_file_unknown_repo_and_local_folder(tmp_path: Path):
    with pytest.raises(BackendUnavailable, match=r"^lightx2v/Qwen-Image-Lightning \(backends\.qwen-image\.lora\) "
                                                 r"has no Qwen-Image-Lightning-8steps-V1\.1\.safetensors to pull"):
        planned("qwen-image", {"preset": "lightning", "model": str(tmp_path)},
                {"lightx2v/Qwen-Image-Lightning": ["other.safetensors"]})
    with pytest.raises(BackendUnavailable, match=r"^cannot pull nobody/none: OSError: 404 Client Error"):
        planned("sdxs", {"model": "nobody/none"}, {})
    assert planned("sdxs", {"model": str(tmp_path)}, {}) == {"model": []}


def test_real_hub_passes_plan_endpoint_and_revision_to_huggingface_hub(monkeypatch):
    import huggingface_hub

    seen = {}
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo, **kw: seen.update(repo=repo, **kw) or "/x")
    assert pull.Hub("http://127.0.0.1:9/mirror").download("o/r", ["a.json", "b/c.safetensors"], "abc") == Path("/x")
    assert seen == {"repo": "o/r", "allow_patterns": ["a.json", "b/c.safetensors"], "revision": "abc",
                    "endpoint": "http://127.0.0.1:9/mirror"}


def test_cli_offline_refuses_with_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    res = runner.invoke(app, ["models", "pull", "sdxs"])
    assert res.exit_code == 2
    assert res.stderr == ("error: HF_HUB_OFFLINE=1 forbids downloads: unset it (or run where the hub is reachable) "
                          "to pull weights\n")


def test_cli_pull_then_check_says_ready(tmp_path: Path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    cache = tmp_path / "hub"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    hub = FakeHub({"IDKiro/sdxs-512-0.9": sd_repo()}, {"IDKiro/sdxs-512-0.9": SD_INDEX}, cache)
    endpoints = []
    monkeypatch.setattr(pull, "Hub", lambda endpoint=None: endpoints.append(endpoint) or hub)
    dry = runner.invoke(app, ["models", "pull", "sdxs", "--dry-run"])
    assert dry.exit_code == 0 and not hub.downloads
    assert "sdxs model: IDKiro/sdxs-512-0.9 — 12 files, 0.00 GB" in dry.stdout
    assert "unet/diffusion_pytorch_model.safetensors" in dry.stdout and "sdxs.ckpt" not in dry.stdout
    assert runner.invoke(app, ["models", "check", "-b", "sdxs"]).exit_code == 1  # not there yet
    res = runner.invoke(app, ["models", "pull", "sdxs", "--endpoint", "http://mirror.local"])
    assert res.exit_code == 0, res.output
    assert endpoints[-1] == "http://mirror.local" and len(hub.downloads[0][1]) == 12
    assert res.stdout.splitlines()[-1] == "ready  sdxs"
    check = runner.invoke(app, ["models", "check", "-b", "sdxs"])
    assert check.exit_code == 0 and check.stdout.strip() == "ready  sdxs"


def test_cli_pull_unknown_backend_exits_2(tmp_path: Path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"backends": {}}))
    res = runner.invoke(app, ["models", "pull", "sdsx", "-c", str(cfg)])
    assert res.exit_code == 2 and "unknown render backend 'sdsx'; did you mean 'sdxs'?" in res.stderr
