"""Run a whole manifest: validate up front, render SKUs on the chosen executor, write run.yaml + reports."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from ecomctl import __version__
from ecomctl.config import Config
from ecomctl.engine import executors
from ecomctl.engine.item import RunContext
from ecomctl.io import atomic_write_text, output_lock
from ecomctl.manifest import Manifest, load_manifest
from ecomctl.render import get_backend
from ecomctl.render.styles import load_styles
from ecomctl.types import ItemResult

OnResult = Callable[[ItemResult], None]


@dataclass(frozen=True)
class RunSummary:
    manifest: Path
    out: Path
    results: tuple[ItemResult, ...]
    seconds: float

    @property
    def exit_code(self) -> int:
        """0 when every poster passed (warnings allowed), 1 when any item failed QA or errored."""
        return 1 if any(r.status in ("fail", "error") for r in self.results) else 0

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


def load_run_manifest(path: Path, cfg: Config) -> tuple[Manifest, dict]:
    styles = load_styles(cfg.render.styles, Path(path).parent)
    manifest = load_manifest(path, cfg.render.size, cfg.render.variants, styles=styles)
    return manifest, styles


def run_render(manifest_path: Path, cfg: Config, on_result: OnResult | None = None,
               force: bool = False, on_start: Callable[[int], None] | None = None) -> RunSummary:
    """Render every SKU of the manifest into cfg.run.out; never raises for a single SKU's failure.

    `on_start(posters)` is called once the work is known; `on_result` once per finished item."""
    t0 = time.perf_counter()
    manifest, styles = load_run_manifest(manifest_path, cfg)
    out = Path(cfg.run.out)
    name = cfg.render.backend
    settings = cfg.backends.get(name, {})
    devices = executors.devices_of(cfg.render.device)
    backend = get_backend(name, settings, devices[0])  # fails fast (exit 2) if unusable
    from ecomctl import qa

    qa.preflight(cfg)  # bad qa: thresholds or a missing OCR engine: exit 2 before any SKU, not N error rows
    ctx = RunContext(cfg, out, styles, name, settings, force)
    rows = list(manifest.rows)
    kind = executors.choose(cfg.run.executor, cfg.run.workers, devices, len(rows))
    with output_lock(out):
        _write_run_yaml(out, manifest, cfg, backend.describe() | {"executor": kind})
        if on_start:
            on_start(sum(r.variants for r in rows))
        results = []
        for res in executors.run(kind, rows, ctx):
            results.append(res)
            if on_result:
                on_result(res)
        order = {row.sku: i for i, row in enumerate(rows)}
        results.sort(key=lambda r: (order.get(r.sku, 0), r.variant or 0))
        qa.write_reports(out, results, cfg)
    return RunSummary(manifest.path, out, tuple(results), time.perf_counter() - t0)


def _write_run_yaml(out: Path, manifest: Manifest, cfg: Config, backend: dict) -> None:
    doc = {"ecomctl": __version__, "manifest": str(manifest.path.resolve()), "skus": len(manifest.rows),
           "backend": backend, "config": cfg.model_dump(mode="json")}
    atomic_write_text(out / "run.yaml", yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
