"""`ecomctl bench`: time a diffusion backend per image and per stage (random weights or configured ones),
optionally against the stock diffusers pipeline in the same run; or, with `--backend compose MANIFEST`, the
whole `render` command per worker count, optionally against an earlier installed ecomctl; prints JSON."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ecomctl.cli.common import build_config, guard
from ecomctl.errors import ConfigError


def _size(text: str | None, scale: str, backend: str):
    from ecomctl.types import Size

    if text is None:
        side = 128 if scale == "tiny" else (512 if backend == "sdxs" else 1024)
        return Size(side, side)
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {text!r}: expected WxH, e.g. 1024x1024") from None
    if w <= 0 or h <= 0:
        raise ConfigError(f"--size {text!r}: sides must be positive")
    return Size(w, h)


def register(app: typer.Typer) -> None:
    @app.command()
    @guard
    def bench(
        manifest: Path = typer.Argument(None, help="compose only: the manifest `render` runs end to end."),
        backend: str = typer.Option(..., "--backend", "-b", help="Diffusion backend to time, or compose."),
        size: str = typer.Option(None, "--size", help="WxH \\[default: 1024x1024; sdxs 512x512; tiny 128x128]."),
        steps: int = typer.Option(None, "--steps", help="Denoising steps \\[default: the backend's]."),
        batch: int = typer.Option(1, "--batch", help="Images per pipeline call."),
        device: str = typer.Option("auto", "--device", help="cpu, cuda, cuda:1 … \\[default: auto]."),
        dtype: str = typer.Option("auto", "--dtype", help="auto | bf16 | fp16 | fp32."),
        random_weights: bool = typer.Option(False, "--random-weights",
                                            help="Build the architecture from config with random weights."),
        scale: str = typer.Option("full", "--scale", help="full | tiny (tiny configs, runs on any CPU)."),
        baseline: str = typer.Option(None, "--baseline", help="stock: also time the plain diffusers pipeline; "
                                     "compose: a venv/python with an earlier ecomctl, run in the same benchmark."),
        workers: str = typer.Option("1,2", "--workers", "-j", help="compose: worker counts to run, e.g. 1,2."),
        repeats: int = typer.Option(2, "--repeats", help="Timed runs after one warm-up."),
        threads: int = typer.Option(None, "--threads", help="torch CPU threads \\[default: torch's]."),
        config: Path = typer.Option(None, "--config", "-c", help="YAML config (backends.<name> settings)."),
        out: Path = typer.Option(None, "--out", "-o", help="Also write the JSON here."),
    ) -> None:
        """Seconds per image, images/s, peak memory and per-stage seconds, as JSON."""
        from ecomctl.extras import require

        if out is not None:
            from ecomctl.io import usable_file

            usable_file(out, "--out")
        if backend == "compose":
            text = json.dumps(_render_bench(manifest, workers, baseline, repeats, config), indent=2,
                              ensure_ascii=False)
            _emit(text, out)
            return

        if scale not in ("full", "tiny"):
            raise ConfigError(f"--scale {scale!r}: expected full or tiny")
        if batch < 1 or repeats < 1 or (steps is not None and steps < 1):
            raise ConfigError("--batch, --repeats and --steps must be at least 1")
        require("ecomctl bench", "models", ("torch", "diffusers"))
        from ecomctl.bench.run import BenchSpec, run_bench

        cfg = build_config(config, {})
        settings = dict(cfg.backends.get(backend) or {})
        if steps is None:
            from ecomctl.bench.run import _backend_cls

            steps = _backend_cls(backend).Settings.model_fields["steps"].default
        spec = BenchSpec(backend, _size(size, scale, backend), steps, batch, device, dtype, scale,
                         random_weights, baseline, repeats, threads=threads, settings=settings)
        _emit(json.dumps(run_bench(spec), indent=2), out)


def _emit(text: str, out: Path | None) -> None:
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")


def _render_bench(manifest: Path | None, workers: str, baseline: str | None, repeats: int, config: Path | None):
    from ecomctl.bench.render import RenderBenchSpec, run_render_bench

    if manifest is None:
        raise ConfigError("bench --backend compose needs a MANIFEST: ecomctl bench --backend compose catalog.csv")
    try:
        counts = [int(w) for w in workers.split(",") if w.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise ConfigError(f"--workers {workers!r}: expected worker counts ≥ 1, e.g. 1,2")
    extra = ["--config", str(config)] if config else []
    return run_render_bench(RenderBenchSpec(Path(manifest), counts, baseline, repeats, extra=extra))
