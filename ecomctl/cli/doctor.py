"""`ecomctl doctor`: is this machine ready — torch/CUDA/GPUs/VRAM, fonts, OCR models, model weights, disk."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from ecomctl.cli.common import build_config, console, guard

OK, WARN, BAD = "[green]ok[/]  ", "[yellow]warn[/]", "[red]bad[/] "


def register(app: typer.Typer) -> None:
    @app.command()
    @guard
    def doctor(
        config: Path = typer.Option(None, "--config", "-c", help="YAML config file."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of lines."),
    ) -> None:
        """Check the environment; exit 0 when the CPU path (fonts, OCR) works, 1 when it does not."""
        from ecomctl.bench import env
        from ecomctl.render.diffusion import inventory

        cfg = build_config(config, {})
        report = {"packages": env.package_versions(), "torch": env.torch_info(), "fonts": env.font_info(),
                  "ocr": env.ocr_info(),
                  "backends": {n: inventory.readiness(n, cfg.backends.get(n)) for n in inventory.backend_names()},
                  "disk": env.disk_info({"out": cfg.run.out, "hf_cache": env.hf_cache_dir()})}
        healthy = report["fonts"]["ok"] and any(why is None for why in report["ocr"]["engines"].values())
        if as_json:
            print(json.dumps(report, indent=2, default=str))
        else:
            _print(report)
        raise typer.Exit(0 if healthy else 1)


def _say(mark: str, text: str) -> None:
    console.print(f"{mark} {text}", highlight=False, soft_wrap=True)


def _print(r: dict) -> None:
    t = r["torch"]
    if not t["installed"]:
        _say(WARN, "torch not installed: diffusion backends off (pip install 'ecomctl[models]')")
    else:
        _say(OK, f"torch {t['version']} (CUDA {t['cuda'] or 'none'}), {t['threads']} CPU threads")
        if not t["gpus"]:
            _say(WARN, "no CUDA GPU: diffusion backends would run on CPU (very slow); compose is the default")
        for g in t["gpus"]:
            _say(OK, f"cuda:{g['index']} {escape(g['name'])}: {g['vram_gb']} GiB VRAM, {g['free_gb']} free, "
                     f"bf16 {'yes' if g['bf16'] else 'no'}")
    for name in ("diffusers", "transformers"):
        ver = r["packages"].get(name)
        _say(OK if ver else WARN, f"{name} {ver}" if ver else f"{name} not installed")
    f = r["fonts"]
    _say(OK if f["ok"] else BAD, f"font {escape(f.get('path') or '')}" if f["ok"] else escape(f["reason"]))
    for engine, why in r["ocr"]["engines"].items():
        _say(OK if why is None else WARN, f"OCR {engine}" + ("" if why is None else f": {escape(why)}"))
    models = ", ".join(f"{m['file']} ({m['mb']} MB)" for m in r["ocr"]["rapidocr_models"])
    if models:
        _say(OK, f"RapidOCR models: {models}")
    for name, why in r["backends"].items():
        _say(OK if why is None else WARN, f"backend {name}" + ("" if why is None else f": {escape(why)}"))
    for label, d in r["disk"].items():
        _say(OK if d["free_gb"] > 20 else WARN, f"disk {label} ({escape(d['path'])}): {d['free_gb']} GiB free")
