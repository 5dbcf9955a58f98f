"""Executors: where SKUs render — serial, a CPU process pool, one process per GPU, or a Ray cluster."""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ecomctl.engine import item
from ecomctl.engine.item import RunContext, render_sku
from ecomctl.errors import ConfigError
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


def preflight(kind: str) -> None:
    """Refuse an executor whose extra is missing before the run takes its output folder."""
    from ecomctl.errors import BackendUnavailable
    from ecomctl.extras import absent

    if kind == "ray" and absent("ray"):
        raise BackendUnavailable("executor 'ray' needs Ray: pip install 'ecomctl[ray]'")


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


Task = Callable[[SkuRow, RunContext], list[ItemResult]]


def _pool(rows: list[SkuRow], ctx: RunContext, workers: int, devices: list[str] | None,
          task: Task = render_sku) -> Iterator[ItemResult]:
    """Run SKUs in worker processes. A worker that dies (killed for memory, a native crash) breaks the
    whole pool: SKUs that had not started go to a fresh pool; those that were running are retried one
    at a time, alone, so the SKU that kills its worker is found exactly and only it becomes an error row.
    A SKU running longer than `run.item_timeout` seconds has its pool's workers killed: the same path."""
    pending = list(rows)
    timeout = ctx.cfg.run.item_timeout
    with mp.get_context("spawn").Manager() as manager:
        while pending:
            started = manager.dict()
            broken: list[SkuRow] = []
            yield from _pool_round(pending, ctx, workers, devices, task, started, broken, timeout, set())
            suspects = [r for r in broken if r.sku in started]
            pending = [r for r in broken if r.sku not in started]
            for row in suspects:
                alone: list[SkuRow] = []
                late: set[str] = set()
                yield from _pool_round([row], ctx, 1, devices[:1] if devices else None, task, started, alone,
                                       timeout, late)
                if alone and late:
                    yield _error(row, f"timed out after {timeout:g} s (run.item_timeout)")
                elif alone:
                    yield _error(row, "worker process died on this SKU (out of memory or a native crash)")


def _pool_round(rows: list[SkuRow], ctx: RunContext, workers: int, devices: list[str] | None, task: Task,
                started: Any, broken: list[SkuRow], timeout: float | None, late: set[str]
                ) -> Iterator[ItemResult]:
    with _make_pool(workers, devices) as pool:
        futures = {pool.submit(_tracked, task, row, ctx, started): row for row in rows}
        waiting, finished = set(futures), set()
        while waiting:
            done, waiting = wait(waiting, timeout=1.0 if timeout else None, return_when=FIRST_COMPLETED)
            for fut in done:
                row = futures[fut]
                finished.add(row.sku)
                try:
                    yield from fut.result()
                except BrokenProcessPool:
                    broken.append(row)
                except Exception as e:  # an error the task did not catch: that SKU is an error row
                    yield _error(row, f"worker failed: {type(e).__name__}: {e}")
            if timeout and waiting:
                now = time.time()
                overdue = {s for s, t0 in started.items() if s not in finished and now - t0 > timeout}
                if overdue:
                    late |= overdue
                    _kill_workers(pool)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """Kill a pool's worker processes (a hung SKU cannot be interrupted any other way); the pool then
    reports BrokenProcessPool for its unfinished work, which `_pool` re-queues."""
    for proc in list(getattr(pool, "_processes", {}).values()):  # private, but the only handle there is
        proc.kill()


def _tracked(task: Task, row: SkuRow, ctx: RunContext, started: Any) -> list[ItemResult]:
    started[row.sku] = time.time()  # the parent tells running SKUs from queued ones, and times them
    return task(row, ctx)


def _make_pool(workers: int, devices: list[str] | None) -> ProcessPoolExecutor:
    # spawn, not fork: safe with CUDA, torch and onnxruntime threads; each worker loads its models once
    spawn = mp.get_context("spawn")
    if not devices:
        return ProcessPoolExecutor(workers, mp_context=spawn)
    queue = spawn.Manager().Queue()
    for d in devices:
        queue.put(d)
    return ProcessPoolExecutor(workers, mp_context=spawn, initializer=_bind_device, initargs=(queue,))


def _error(row: SkuRow, message: str) -> ItemResult:
    return ItemResult(row.sku, None, "error", error=message, where=row.where)


def _ray(rows: list[SkuRow], ctx: RunContext, devices: list[str]) -> Iterator[ItemResult]:
    from ecomctl.engine import ray_exec  # Ray is an optional extra; imported only for this executor

    return ray_exec.run(rows, ctx, devices)
