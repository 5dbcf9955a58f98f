"""Scene stage, diffusion side: the steps every diffusers backend shares — settings, model lookup and
loading, device/dtype, speed knobs, batching, seeds, resize and edge harmonisation."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from ecomctl.config import validate_section
from ecomctl.errors import ConfigError, RenderError
from ecomctl.render.diffusion import canvas
from ecomctl.render.diffusion.loading import Loader, fetch_hint, locate
from ecomctl.types import Scene, SceneRequest, Size
from ecomctl.weights import INSTALL_HINT, offline


class DiffusionSettings(BaseModel):
    """Knobs shared by every diffusion backend (config `backends.<name>.*`); backends add their repo ids."""

    model_config = ConfigDict(extra="forbid")
    dtype: Literal["auto", "bf16", "fp16", "fp32"] = "auto"  # auto: bf16 on Ampere+, fp16 before, fp32 on CPU
    steps: int = 4
    guidance: float = 1.0
    batch: int = 4  # most requests per pipeline call (one SKU's variants share a size)
    max_side: int | None = None  # working resolution cap; the scene is resized to the canvas after
    channels_last: bool = True
    fuse_qkv: bool = False
    compile: bool = False  # torch.compile the denoiser (first call pays the compile)
    compile_mode: str = "max-autotune-no-cudagraphs"
    tiny_vae: str | None = None  # AutoencoderTiny repo/folder used to decode (faster, a little softer)
    cpu_offload: bool = False  # model CPU offload for small GPUs
    cache_threshold: float | None = None  # first-block cache (diffusers hooks) on transformer denoisers
    vae_tiling: bool | None = None  # None: on when the working image is larger than 1536 px on a side
    variant: str | None = None  # weight variant of the main repo, e.g. "fp16" (half the download for SDXL)
    allow_download: bool = False  # False: weights must be local (HF cache or folder); HF_HUB_OFFLINE forces it
    mask_dilate: int = 4
    harmonize: float = 0.25
    negative_prompt: str = ""
    style_share: bool = False  # UNet backends: variants of one batch share the first one's look


@dataclass(frozen=True)
class Need:
    """One model a backend needs: the settings key holding its repo id or folder."""

    key: str
    role: str
    approx_gb: float  # rough download size of what is loaded (bf16/fp16 weights), for `models list`
    required: bool = True
    when: str | None = None  # a settings flag that must be on for this model to be used (e.g. style_ip)


def pick_device(device: str) -> str:
    if device not in ("auto", "", None):
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def dtype_name(dtype: str, device: str) -> str:
    """The precision a run uses: the configured one, or for `auto` fp32 off CUDA, bf16 on GPUs with native bf16
    (compute capability >= 8.0: Ampere and later) and fp16 before them. torch.cuda.is_bf16_supported() also
    counts bf16 that is emulated, which runs several times slower on a Turing or Volta card."""
    if dtype != "auto":
        return dtype
    if not device.startswith("cuda"):
        return "fp32"
    import torch

    major, _minor = torch.cuda.get_device_capability(device)
    return "bf16" if major >= 8 else "fp16"


def pick_dtype(dtype: str, device: str):
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype_name(dtype, device)]


def denoiser_of(pipe: Any):
    return getattr(pipe, "transformer", None) or getattr(pipe, "unet", None)


def apply_knobs(pipe: Any, s: DiffusionSettings, device: str, work: Size | None = None) -> dict[str, Any]:
    """Speed knobs on a loaded pipeline; returns what was actually applied (for describe/bench)."""
    import torch

    applied: dict[str, Any] = {"attention": "sdpa" if hasattr(torch.nn.functional, "scaled_dot_product_attention")
                               else "eager"}
    net = denoiser_of(pipe)
    if s.fuse_qkv and hasattr(pipe, "fuse_qkv_projections"):
        pipe.fuse_qkv_projections()
        applied["fuse_qkv"] = True
    elif s.fuse_qkv and hasattr(net, "fuse_qkv_projections"):
        net.fuse_qkv_projections()
        applied["fuse_qkv"] = True
    if s.cpu_offload and device.startswith("cuda"):
        pipe.enable_model_cpu_offload(device=device)
        applied["cpu_offload"] = True
    else:
        pipe.to(device)
    if s.channels_last and getattr(pipe, "unet", None) is not None:
        pipe.unet.to(memory_format=torch.channels_last)
        applied["channels_last"] = True
    if s.vae_tiling or (s.vae_tiling is None and work is not None and max(work.w, work.h) > 1536):
        pipe.vae.enable_tiling()
        applied["vae_tiling"] = True
    if s.cache_threshold and hasattr(net, "enable_cache"):
        from diffusers.hooks import FirstBlockCacheConfig

        net.enable_cache(FirstBlockCacheConfig(threshold=s.cache_threshold))
        applied["first_block_cache"] = s.cache_threshold
    if s.compile and net is not None:
        compiled = torch.compile(net, mode=s.compile_mode, fullgraph=False)
        setattr(pipe, "transformer" if getattr(pipe, "transformer", None) is not None else "unet", compiled)
        applied["compile"] = s.compile_mode
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    return applied


class OutOfMemory(RenderError):
    """A pipeline call ran out of GPU memory: the batch may still fit when split."""


def is_oom(e: BaseException) -> bool:
    """torch.OutOfMemoryError, or an older/other RuntimeError that says so ("CUDA out of memory")."""
    import torch

    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(e, oom)) or "out of memory" in str(e).lower()


def free_gpu_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def schedule_of(pipe: Any) -> dict[str, Any]:
    """The schedule the last pipeline call ran, for the sidecar: scheduler class, timesteps and (where the
    scheduler keeps them) sigmas, the final 0 included."""
    sched = getattr(pipe, "scheduler", None)
    out: dict[str, Any] = {"scheduler": type(sched).__name__}
    for key, digits in (("timesteps", 3), ("sigmas", 4)):
        values = getattr(sched, key, None)
        if values is not None:
            out[key] = [round(float(v), digits) for v in values]
    return out


def generators(requests: Sequence[SceneRequest]) -> list:
    """One CPU generator per request, seeded by request.seed: the same seed gives the same pixels on any
    device and in any batch position."""
    import torch

    return [torch.Generator("cpu").manual_seed(int(r.seed) % (2**63)) for r in requests]


class DiffusionBackend:
    """Base of the diffusers backends: subclasses declare Settings, NEEDS, ALIGN, PIPELINE, may adjust
    `load_kwargs`/`configure`, and implement `generate` (one batched pipeline call → working-size images)."""

    name: ClassVar[str]
    Settings: ClassVar[type[DiffusionSettings]] = DiffusionSettings
    NEEDS: ClassVar[tuple[Need, ...]] = ()
    ALIGN: ClassVar[int] = 16  # working size multiple (VAE factor × patch size)
    PIPELINE: ClassVar[str]  # diffusers pipeline class
    MAIN: ClassVar[str] = "model"  # settings key of the main repo
    GUIDANCE_ARG: ClassVar[str] = "guidance_scale"  # the pipeline argument `guidance` feeds (for stock runs)

    def __init__(self, settings: dict[str, Any] | None = None, device: str = "auto"):
        self.settings = validate_section(self.Settings, settings, f"backends.{self.name}")
        self.device = pick_device(device)
        self._pipe: Any = None
        self._style: Any = None  # shared-attention processor when style_share is on
        self._ip: Any = None  # IP-Adapter guide when style_ip is on
        self._call_kwargs: dict[str, Any] = {}  # extra pipeline arguments for the current call (IP embeds)
        self.applied: dict[str, Any] = {}
        self.load_seconds: float | None = None
        self._dtype: str | None = None  # the resolved precision, once run_dtype() was asked

    # --- what it needs -------------------------------------------------------------------------
    @property
    def local_only(self) -> bool:
        return offline() or not self.settings.allow_download

    def where(self, key: str) -> str:
        return f"backends.{self.name}.{key}"

    def needs(self, unused: bool = False, pulling: bool = False) -> list[tuple[Need, str]]:
        """(need, repo id or folder) for every model this configuration uses (with `unused`, also the ones
        configured for a feature that is off, for `models list`; with `pulling`, the ones a GPU may use)."""
        out = []
        for need in self.NEEDS:
            repo = getattr(self.settings, need.key)
            if repo and (unused or self.uses(need, pulling)):
                out.append((need, str(repo)))
        return out

    def uses(self, need: Need, pulling: bool = False) -> bool:
        return need.when is None or bool(getattr(self.settings, need.when, False))

    def need_files(self, need: Need) -> str | None:
        """Which files of a repo are meant, where it is not the whole model (for `models list`)."""
        s = self.settings
        if need.key == "lora":
            return getattr(s, "lora_weight", None) or "the file diffusers picks"
        if need.key == "ip_adapter":
            return f"{s.ip_subfolder}/{s.ip_weight} + {s.ip_subfolder}/{s.ip_image_encoder}/"
        return None

    def unavailable(self) -> str | None:
        try:
            import diffusers  # noqa: F401
            import torch  # noqa: F401
        except ImportError as e:
            return f"{e.name} is not installed; {INSTALL_HINT}"
        if not self.local_only:
            return None
        for need, repo in self.needs():
            if locate(repo) is None:
                return fetch_hint(repo, self.where(need.key))
        return None

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {"name": self.name, "models": {need.key: repo for need, repo in self.needs()}, "steps": s.steps,
                "guidance": s.guidance, "dtype": self._dtype or s.dtype, "device": self.device,
                "knobs": dict(self.applied), **self.extra_describe()}

    def run_dtype(self) -> str:
        """bf16 | fp16 | fp32: what this backend runs in on its device (`dtype: auto` resolved). Resolving `auto`
        on CUDA reads the compute capability, which initialises CUDA: only where the pipeline loads (a worker),
        never in a parent that forks workers later — describe() says `auto` until the pipeline is loaded."""
        if self._dtype is None:
            self._dtype = dtype_name(self.settings.dtype, self.device)
        return self._dtype

    def weight_variant(self, pulling: bool = False) -> str | None:
        """The weight variant of the main repo to load (`pulling`: to download, where the GPU is not known)."""
        return self.settings.variant

    def extra_describe(self) -> dict[str, Any]:
        return {}

    # --- running -------------------------------------------------------------------------------
    def pipeline(self, work: Size | None = None) -> Any:
        """The loaded pipeline, once per backend instance (and get_backend keeps one instance per process)."""
        if self._pipe is None:
            t0 = time.perf_counter()
            loader = Loader(self, pick_dtype(self.run_dtype(), self.device))
            pipe = self.build(loader)
            if self.settings.tiny_vae:
                from diffusers import AutoencoderTiny

                pipe.vae = loader.load(AutoencoderTiny, "tiny_vae")
                self.applied["tiny_vae"] = True
            if getattr(self.settings, "style_ip", False):
                from ecomctl.render.diffusion import ip_style

                self._ip = ip_style.load(self, pipe, loader)
            self.adopt(pipe, work)
            self.load_seconds = time.perf_counter() - t0
        return self._pipe

    def adopt(self, pipe: Any, work: Size | None = None, knobs: bool = True) -> None:
        """Use `pipe` from now on (bench hands in random-weight pipelines this way), knobs applied."""
        if knobs:
            self.applied.update(apply_knobs(pipe, self.settings, self.device, work))
        if self.settings.style_share:
            if getattr(pipe, "unet", None) is None:
                raise ConfigError(f"config backends.{self.name}.style_share: only UNet backends share style")
            if self._ip is not None:
                raise ConfigError(f"config backends.{self.name}.style_share: use style_share or style_ip, not both")
            from ecomctl.render.diffusion import style_attention

            self._style = style_attention.install(pipe.unet)
            self.applied["style_share"] = True
        if not knobs:
            pipe.to(self.device)
            pipe.set_progress_bar_config(disable=True)
        # knobs placed the pipeline already: on the device, or (cpu_offload) on the CPU with hooks that move
        # each model to the GPU for its forward; a pipe.to(device) here would undo the offload
        self._pipe = pipe

    def build(self, loader: Loader) -> Any:
        """Load the pipeline, fuse the acceleration LoRA, configure the sampler."""
        variant = {"variant": self.weight_variant()} if self.weight_variant() else {}
        pipe = loader.load(self.pipeline_class(), self.MAIN, **variant, **self.load_kwargs(loader))
        if getattr(self.settings, "lora", None):
            loader.lora(pipe, "lora", getattr(self.settings, "lora_weight", None))
        self.configure(pipe)
        return pipe

    @classmethod
    def pipeline_class(cls) -> Any:
        import diffusers

        return getattr(diffusers, cls.PIPELINE)

    def load_kwargs(self, loader: Loader) -> dict[str, Any]:
        return {}

    def supplied_components(self) -> set[str]:
        """Pipeline components load_kwargs supplies (or drops) instead of the main repo's folder."""
        return set()

    def configure(self, pipe: Any) -> None:
        """Sampler settings our acceleration needs (scheduler swaps); nothing by default."""

    def work_size(self, canvas_size: Size) -> Size:
        return canvas.work_size(canvas_size, self.ALIGN, self.settings.max_side)

    def render(self, requests: Sequence[SceneRequest]) -> list[Scene]:
        """Scenes in request order; requests of one size go through the pipeline in batches."""
        scenes: list[Scene | None] = [None] * len(requests)
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, r in enumerate(requests):
            by_size.setdefault(r.size.tuple, []).append(i)
        for idx in by_size.values():
            for start in range(0, len(idx), max(1, self.settings.batch)):
                chunk = idx[start:start + max(1, self.settings.batch)]
                for i, scene in zip(chunk, self._render_split([requests[i] for i in chunk])):
                    scenes[i] = scene
        return [s for s in scenes if s is not None]

    def _render_split(self, batch: list[SceneRequest], sizes: list[int] | None = None) -> list[Scene]:
        """One pipeline call; on GPU out-of-memory the batch is retried in halves, then one item at a time, and
        an item that does not fit even alone becomes an error scene (its siblings still render)."""
        if sizes is None:
            sizes = sorted({s for s in (-(-len(batch) // 2), 1) if s < len(batch)}, reverse=True)
        try:
            return self._render_batch(batch)
        except OutOfMemory as e:
            free_gpu_cache()
            if not sizes:
                return [Scene(None, {"seed": r.seed, "batch": len(batch)}, error=str(e)) for r in batch]
            return [scene for start in range(0, len(batch), sizes[0])
                    for scene in self._render_split(batch[start:start + sizes[0]], sizes[1:])]

    def _render_batch(self, batch: list[SceneRequest]) -> list[Scene]:
        import torch

        work = self.work_size(batch[0].size)
        pipe = self.pipeline(work)
        if self._style is not None:
            self._style.group = len(batch)  # the first request of the batch is the style reference
        t0 = time.perf_counter()
        run = batch
        try:
            with torch.inference_mode(), self._cache_context(pipe):
                if self._ip is not None:  # reference + target per request; the targets are the scenes
                    from ecomctl.render.diffusion import ip_style

                    run = ip_style.pairs(batch, self.settings)
                    self._call_kwargs = ip_style.prepare(pipe, self._ip, batch, work, self.true_cfg(pipe))
                images = self.generate(pipe, run, work, generators(run))
                images = images[1::2] if self._ip is not None else images
                ran = schedule_of(pipe)
        except (RuntimeError, ValueError) as e:
            why = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:200]}" if str(e).strip() else type(e).__name__
            if is_oom(e):
                raise OutOfMemory(f"{self.name}: GPU out of memory at batch {len(batch)} ({why})") from None
            raise RenderError(f"{self.name}: {why}") from None
        seconds = (time.perf_counter() - t0) / len(batch)
        out = []
        for req, img in zip(batch, images):
            scene = canvas.harmonize(canvas.to_canvas(img, req.size), req, self.settings.harmonize)
            out.append(Scene(scene, {"seed": req.seed, "prompt": req.prompt, "work_size": str(work), "batch": len(batch),
                                     "seconds": round(seconds, 4), "load_seconds": round(self.load_seconds or 0, 3),
                                     **ran}))
        return out

    def true_cfg(self, pipe: Any) -> bool:
        """Does the pipeline run an unconditional half (UNet pipelines: guidance > 1, no guidance embedding)?"""
        net = denoiser_of(pipe)
        return self.settings.guidance > 1 and getattr(net.config, "time_cond_proj_dim", None) is None

    def _cache_context(self, pipe: Any) -> Any:
        """Cache hooks need a named context; pipelines that do not open one per step (FLUX Fill in
        diffusers 0.42) get one around the whole call (no true CFG there, so one context is right)."""
        import contextlib

        net = denoiser_of(pipe)
        if "first_block_cache" in self.applied and hasattr(net, "cache_context"):
            return net.cache_context("cond")
        return contextlib.nullcontext()

    def prompts(self, batch: Sequence[SceneRequest]) -> tuple[list[str], list[str]]:
        """Prompt and negative prompt per request (the runner builds them from the style and the SKU)."""
        pos = [r.prompt or "product photography background" for r in batch]
        neg = [", ".join(x for x in (r.negative_prompt, self.settings.negative_prompt) if x) for r in batch]
        return pos, neg

    def generate(self, pipe: Any, batch: list[SceneRequest], work: Size, gens: list) -> list:
        raise NotImplementedError
