"""Executors: where SKUs render — serial, a CPU process pool, one process per GPU, or a Ray cluster."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from ecomctl.engine import item
from ecomctl.engine.item import RunContext, render_sku
from ecomctl.errors import BackendUnavailable, ConfigError
from ecomctl.types import ItemResult, SkuRow


def devices_of(spec: str) -> list[str]:
    """`cuda:0,cuda:1` → ['cuda:0', 'cuda:1']; `auto`/`cpu` → one entry."""
    return [d.strip() for d in spec.split(",") if d.strip()] or ["auto"]


def choose(executor: str, workers: int, devices: list[str], n_rows: int) -> str:
    if executor != "auto":
        return executor
    if len(devices) > 1:
        return "gpu"
    return "process" if workers > 1 and n_rows > 1 else "serial"


def run(kind: str, rows: list[SkuRow], ctx: RunContext) -> Iterator[ItemResult]:
    cfg = ctx.cfg
    devices = devices_of(cfg.render.device)
    if kind == "serial":
        return _serial(rows, ctx)
    if kind == "process":
        return _pool(rows, ctx, max(1, cfg.run.workers), None)
    if kind == "gpu":
        return _pool(rows, ctx, len(devices), devices)
    if kind == "ray":
        return _ray(rows, ctx, devices)
    raise ConfigError(f"unknown executor {kind!r} (serial, process, gpu, ray)")


def _serial(rows: list[SkuRow], ctx: RunContext) -> Iterator[ItemResult]:
    for row in rows:
        yield from render_sku(row, ctx)


def _bind_device(queue: Any) -> None:
    """Pool initializer: each worker process takes one device for its whole life."""
    item.WORKER_DEVICE = queue.get()


def _pool(rows: list[SkuRow], ctx: RunContext, workers: int, devices: list[str] | None
          ) -> Iterator[ItemResult]:
    # spawn, not fork: safe with CUDA, torch and onnxruntime threads; each worker loads its models once
    spawn = mp.get_context("spawn")
    kwargs: dict[str, Any] = {}
    if devices:
        queue = spawn.Manager().Queue()
        for d in devices:
            queue.put(d)
        kwargs = {"initializer": _bind_device, "initargs": (queue,)}
    with ProcessPoolExecutor(workers, mp_context=spawn, **kwargs) as pool:
        futures = {pool.submit(render_sku, row, ctx): row for row in rows}
        for fut in as_completed(futures):
            try:
                yield from fut.result()
            except Exception as e:  # a worker died (e.g. killed for memory): that SKU is an error row
                row = futures[fut]
                yield ItemResult(row.sku, None, "error", error=f"worker failed: {type(e).__name__}: {e}",
                                 where=row.where)


def _ray(rows: list[SkuRow], ctx: RunContext, devices: list[str]) -> Iterator[ItemResult]:
    """One Ray task per SKU; GPU backends ask Ray for one GPU per task (Ray sets CUDA_VISIBLE_DEVICES)."""
    try:
        import ray
    except ImportError:
        raise BackendUnavailable("executor 'ray' needs Ray: pip install 'ecomctl[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=ctx.cfg.run.ray_address or None, ignore_reinit_error=True)
    gpus = 1 if any(d.startswith("cuda") for d in devices) else 0
    task = ray.remote(num_gpus=gpus)(_ray_task)
    pending = {task.remote(row, ctx): row for row in rows}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        ref = done[0]
        row = pending.pop(ref)
        try:
            yield from ray.get(ref)
        except Exception as e:  # a lost node or a crashed task: that SKU is an error row
            yield ItemResult(row.sku, None, "error", error=f"ray task failed: {type(e).__name__}: {e}",
                             where=row.where)


def _ray_task(row: SkuRow, ctx: RunContext) -> list[ItemResult]:
    if any(d.startswith("cuda") for d in devices_of(ctx.cfg.render.device)):
        item.WORKER_DEVICE = "cuda:0"  # Ray exposes the task's GPU as device 0
    return render_sku(row, ctx)
