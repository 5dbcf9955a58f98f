"""Environment facts for `ecomctl doctor` and every bench JSON: packages, torch/CUDA/GPUs/VRAM, fonts, OCR
models, disk — each probe cheap and safe when the optional package is missing."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
import sys
from pathlib import Path
from typing import Any

PACKAGES = ("torch", "diffusers", "transformers", "accelerate", "peft", "safetensors", "huggingface_hub",
            "onnxruntime", "rapidocr", "torchvision")


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def installed(module: str) -> bool:
    """Importable without importing it (a module blocked in sys.modules counts as missing)."""
    if module in sys.modules and sys.modules[module] is None:
        return False
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError, AttributeError):
        return False


def torch_info() -> dict[str, Any]:
    """torch build, CUDA and each GPU's name and VRAM (total/free, GiB); {'installed': False} without torch."""
    if not installed("torch"):
        return {"installed": False}
    import torch

    info: dict[str, Any] = {"installed": True, "version": torch.__version__, "cuda": torch.version.cuda,
                            "cuda_available": torch.cuda.is_available(), "threads": torch.get_num_threads(),
                            "gpus": []}
    if info["cuda_available"]:
        for i in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(i)
            p = torch.cuda.get_device_properties(i)
            info["gpus"].append({"index": i, "name": p.name, "vram_gb": round(total / 2**30, 1),
                                 "free_gb": round(free / 2**30, 1), "capability": f"{p.major}.{p.minor}",
                                 "bf16": bool(torch.cuda.is_bf16_supported())})
    return info


def font_info() -> dict[str, Any]:
    from ecomctl.errors import EcomctlError
    from ecomctl.text.fonts import default_font_path

    try:
        path = default_font_path()
    except EcomctlError as e:
        return {"ok": False, "reason": str(e)}
    return {"ok": path.is_file(), "path": str(path), "reason": None if path.is_file() else f"{path} missing"}


def ocr_info() -> dict[str, Any]:
    """Each OCR engine's readiness, and the ONNX models RapidOCR ships in its wheel."""
    from ecomctl.text.ocr import OCR_ENGINES, _load_builtins, ocr_settings

    _load_builtins()
    engines = {}
    for name in OCR_ENGINES.names():
        try:
            engines[name] = OCR_ENGINES.get(name)(ocr_settings({"engine": name})).unavailable()
        except Exception as e:  # noqa: BLE001 — a broken optional engine is a finding, not a crash
            engines[name] = f"{type(e).__name__}: {e}"
    models = []
    spec = importlib.util.find_spec("rapidocr") if installed("rapidocr") else None
    if spec and spec.origin:
        folder = Path(spec.origin).parent / "models"
        models = [{"file": p.name, "mb": round(p.stat().st_size / 2**20, 1)} for p in sorted(folder.glob("*.onnx"))]
    return {"engines": engines, "rapidocr_models": models}


def hf_cache_dir() -> Path:
    try:
        from huggingface_hub import constants

        return Path(constants.HF_HUB_CACHE)
    except ImportError:
        return Path(os.environ.get("HF_HOME", Path("~/.cache/huggingface").expanduser())) / "hub"


def disk_info(paths: dict[str, Path]) -> dict[str, Any]:
    """Free/total GiB of the file system holding each path (its nearest existing parent)."""
    out = {}
    for label, path in paths.items():
        probe = Path(path).resolve()
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        usage = shutil.disk_usage(probe)
        out[label] = {"path": str(path), "free_gb": round(usage.free / 2**30, 1),
                      "total_gb": round(usage.total / 2**30, 1)}
    return out


def summary() -> dict[str, Any]:
    """What a bench JSON records about the machine it ran on."""
    return {"python": sys.version.split()[0], "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "packages": package_versions(), "torch": torch_info()}
