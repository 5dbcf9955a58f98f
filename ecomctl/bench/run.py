"""`ecomctl bench` library: time a diffusion backend (random weights from its architecture config, or the
configured weights) per image and per stage, optionally against the stock diffusers pipeline in the same run."""

from __future__ import annotations

import inspect
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from ecomctl.bench import env
from ecomctl.errors import ConfigError
from ecomctl.render import BACKENDS, load_builtins
from ecomctl.render.diffusion.common import DiffusionBackend, denoiser_of, pick_device, pick_dtype
from ecomctl.types import Box, Layout, SceneRequest, Size, SkuRow, Style, TextLine

SCHEMA = "ecomctl.bench/1"
# knobs off and acceleration removed: what "the plain diffusers pipeline with default settings" means here
STOCK_OFF = {"channels_last": False, "fuse_qkv": False, "compile": False, "cache_threshold": None,
             "tiny_vae": None, "harmonize": 0.0, "lora": None, "scheduler": "keep"}


@dataclass
class BenchSpec:
    backend: str
    size: Size
    steps: int
    batch: int = 1
    device: str = "auto"
    dtype: str = "auto"
    scale: str = "full"  # full | tiny (random weights only)
    random_weights: bool = True
    baseline: str | None = None  # "stock"
    repeats: int = 2
    warmup: int = 1
    threads: int | None = None  # torch CPU threads (None: torch's default)
    settings: dict[str, Any] = field(default_factory=dict)  # config backends.<name>


def synthetic_requests(size: Size, n: int) -> list[SceneRequest]:
    """n requests with a bottle-like product in the middle third and one title line; seeds 0..n-1."""
    w, h = size.tuple
    layer = Image.new("RGBA", size.tuple, (0, 0, 0, 0))
    box = Box(int(w * 0.35), int(h * 0.3), int(w * 0.65), int(h * 0.9))
    ImageDraw.Draw(layer).rounded_rectangle(tuple(box.as_list()), radius=max(2, w // 40), fill=(40, 90, 160, 255))
    row = SkuRow(sku="BENCH", image=Path("bench.png"), title="Bench", size=size)
    line = TextLine("title", "Bench", Box(int(w * 0.1), int(h * 0.05), int(w * 0.9), int(h * 0.2)),
                    max(8, h // 12), 700, (20, 20, 20))
    layout = Layout(size, "bench", box, (line,))
    style = Style("bench", ((240, 240, 240), (200, 205, 215)), prompt="clean studio backdrop, soft light")
    prompt = "a bottle standing in the scene, clean studio backdrop, soft light, product photography"
    return [SceneRequest(row, 1 + i, i, style, layout, layer, prompt, "text, watermark") for i in range(n)]


class StageTimer:
    """Seconds spent in text encoders, denoiser, ControlNet and VAE encode/decode during pipeline calls."""

    def __init__(self, pipe: Any, device: str):
        import torch

        self.sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
        self.seconds: dict[str, float] = {}
        self.handles: list[Any] = []
        for name in ("text_encoder", "text_encoder_2"):
            self._hook(getattr(pipe, name, None), "text_encode")
        self._hook(denoiser_of(pipe), "denoise")
        self._hook(getattr(pipe, "controlnet", None), "controlnet")
        vae = getattr(pipe, "vae", None)
        for method, stage in (("encode", "vae_encode"), ("decode", "vae_decode")):
            if vae is not None and hasattr(vae, method):
                setattr(vae, method, self._wrap(getattr(vae, method), stage))

    def _hook(self, module: Any, stage: str) -> None:
        if module is None:
            return
        start: list[float] = []

        def pre(*_: Any, **__: Any) -> None:
            self.sync()
            start.append(time.perf_counter())

        def post(*_: Any, **__: Any) -> None:
            self.sync()
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start.pop()

        self.handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]

    def _wrap(self, fn: Any, stage: str) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.sync()
            t = time.perf_counter()
            out = fn(*args, **kwargs)
            self.sync()
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - t
            return out

        return timed

    def reset(self) -> None:
        self.seconds = {}


def _backend_cls(name: str) -> type[DiffusionBackend]:
    load_builtins()
    cls = BACKENDS.get(name)
    if not (isinstance(cls, type) and issubclass(cls, DiffusionBackend)):
        names = [n for n in BACKENDS.names() if isinstance(BACKENDS.get(n), type)
                 and issubclass(BACKENDS.get(n), DiffusionBackend)]
        raise ConfigError(f"bench times diffusion backends ({', '.join(names)}); {name!r} is not one")
    return cls


def build_random(name: str, scale: str, device: str, dtype: Any) -> dict[str, Any]:
    """The backend's components with random weights, created directly on `device` in `dtype`."""
    import torch

    from ecomctl.bench.arch import BUILDERS

    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    try:
        torch.set_default_dtype(dtype)
        with torch.device(device):
            comps = BUILDERS[name](scale)  # type: ignore[arg-type]
    finally:
        torch.set_default_dtype(previous)
    for part in comps.values():
        if isinstance(part, torch.nn.Module):
            part.to(device=device, dtype=dtype).eval()
    return comps


def _stock_settings(cls: type[DiffusionBackend], settings: dict[str, Any]) -> dict[str, Any]:
    call = inspect.signature(cls.pipeline_class().__call__).parameters
    fields = cls.Settings.model_fields
    stock = {k: v for k, v in STOCK_OFF.items() if k in fields}
    stock["steps"] = call["num_inference_steps"].default
    stock["guidance"] = call[cls.GUIDANCE_ARG].default
    return {**settings, **stock}


def _time(backend: DiffusionBackend, requests: list[SceneRequest], spec: BenchSpec, device: str) -> dict[str, Any]:
    import torch

    timer = StageTimer(backend.pipeline(), device)
    for _ in range(spec.warmup):
        backend.render(requests)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    timer.reset()
    t0 = time.perf_counter()
    for _ in range(spec.repeats):
        backend.render(requests)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    total = time.perf_counter() - t0
    images = spec.repeats * len(requests)
    stages = {k: v / images for k, v in sorted(timer.seconds.items())}
    stages["other"] = max(0.0, total / images - sum(stages.values()))
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda")
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    s = backend.settings
    return {"steps": s.steps, "guidance": s.guidance, "knobs": dict(backend.applied),
            "seconds_per_image": round(total / images, 5), "images_per_second": round(images / total, 3),
            "seconds_per_call": round(total / spec.repeats, 5), "stages_seconds_per_image":
            {k: round(v, 5) for k, v in stages.items()},
            "peak_memory_mb": round(peak, 1), "peak_memory_kind": "cuda_allocated" if device.startswith("cuda")
            else "process_max_rss", "load_seconds": round(backend.load_seconds or 0.0, 3)}


def run_bench(spec: BenchSpec) -> dict[str, Any]:
    """Time the backend (and the stock pipeline when asked) and return the bench record."""
    cls = _backend_cls(spec.backend)
    if spec.baseline not in (None, "stock"):
        raise ConfigError(f"unknown baseline {spec.baseline!r} (known: stock)")
    if not spec.random_weights and (spec.scale == "tiny" or spec.baseline):
        raise ConfigError("--scale tiny and --baseline stock need --random-weights")
    device = pick_device(spec.device)
    if spec.threads:
        import torch

        torch.set_num_threads(spec.threads)
    ours_settings = {**spec.settings, "steps": spec.steps, "batch": spec.batch, "dtype": spec.dtype,
                     "max_side": None}
    if "sizing" in cls.Settings.model_fields:  # the stated size is the working size (no SDXL bucket snap)
        ours_settings["sizing"] = "fit"
    ours = cls(ours_settings, device)
    work = ours.work_size(spec.size)
    requests = synthetic_requests(work, spec.batch)
    record: dict[str, Any] = {"schema": SCHEMA, "backend": spec.backend, "scale": spec.scale,
                              "random_weights": spec.random_weights, "size": str(work), "batch": spec.batch,
                              "device": device, "dtype": str(pick_dtype(spec.dtype, device)).replace("torch.", "")}
    if spec.random_weights:
        comps = build_random(spec.backend, spec.scale, device, pick_dtype(spec.dtype, device))
        if spec.baseline == "stock":  # first, while the modules are untouched by our knobs
            stock = cls(_stock_settings(cls, ours_settings), device)
            stock.adopt(stock.pipeline_class()(**comps), work, knobs=False)
            record["baseline"] = {"name": "stock", **_time(stock, requests, spec, device)}
            stock._pipe = None
        pipe = ours.pipeline_class()(**comps)
        ours.configure(pipe)
        t0 = time.perf_counter()
        ours.adopt(pipe, work)
        ours.load_seconds = time.perf_counter() - t0
    else:
        why = ours.unavailable()
        if why:
            raise ConfigError(f"backend {spec.backend!r} unavailable: {why} (or use --random-weights)")
    record["ours"] = {"name": spec.backend, **_time(ours, requests, spec, device)}
    if "baseline" in record:
        record["speedup_vs_stock"] = round(record["baseline"]["seconds_per_image"]
                                           / record["ours"]["seconds_per_image"], 3)
    record["env"] = env.summary()
    record["note"] = _note(spec, device)
    return record


def _note(spec: BenchSpec, device: str) -> str:
    parts = []
    if spec.random_weights:
        parts.append("random weights: timings only, images are noise; LoRAs are fused (no runtime cost) so "
                     "they are not built")
    if spec.scale == "tiny":
        parts.append("tiny configs: exercises the code path, says nothing about full-size speed")
    if not device.startswith("cuda"):
        parts.append("CPU run: absolute times do not count, only the ratio within this run")
    return "; ".join(parts)

