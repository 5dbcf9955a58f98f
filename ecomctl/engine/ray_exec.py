"""Ray executor: SKUs render on long-lived Ray actors (one per GPU, or per CPU), each loading its pipeline once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from ecomctl.engine import item
from ecomctl.engine.item import RunContext, render_sku
from ecomctl.errors import BackendUnavailable
from ecomctl.types import ItemResult, SkuRow


class RenderActor:
    """Lives in one Ray worker process; holds the backend (pipeline) for the whole run.

    A GPU actor is scheduled with `num_gpus=1`: Ray sets CUDA_VISIBLE_DEVICES to its GPU, so inside the
    actor that GPU is `cuda:0`. The backend is built in `__init__`, so a broken node fails before any SKU."""

    def __init__(self, ctx: RunContext, gpu: bool):
        from ecomctl.render import get_backend

        if gpu:
            item.WORKER_DEVICE = "cuda:0"
        self.ctx = ctx
        self.items = 0
        get_backend(ctx.backend, ctx.backend_settings, item.WORKER_DEVICE or ctx.cfg.render.device)

    def render(self, row: SkuRow) -> list[ItemResult]:
        self.items += 1
        return render_sku(row, self.ctx)

    def info(self) -> dict[str, Any]:
        """Where this actor runs and how often it built a backend (1 = the pipeline loaded once)."""
        import ray

        from ecomctl import render

        ctx = ray.get_runtime_context()
        return {"pid": os.getpid(), "node": ctx.get_node_id(), "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "backend_loads": render.LOADS, "items": self.items}


def wants_gpu(devices: list[str]) -> bool:
    return any(d.startswith("cuda") for d in devices)


def actor_count(ray: Any, gpu: bool, configured: int | None, n_rows: int) -> int:
    """`run.ray_actors`, else one actor per GPU (GPU backends) or per CPU of the cluster; never more than SKUs."""
    if configured:
        return max(1, min(configured, n_rows))
    have = ray.cluster_resources().get("GPU" if gpu else "CPU", 0)
    if gpu and have < 1:
        raise BackendUnavailable("executor 'ray' with --devices cuda: the Ray cluster has no GPU "
                                 "(ray status shows its resources)")
    return max(1, min(int(have), n_rows))


def connect(address: str | None) -> tuple[Any, bool]:
    """The `ray` module, initialised; True when this call started Ray (so the run shuts it down)."""
    try:
        import ray
    except ImportError:
        raise BackendUnavailable("executor 'ray' needs Ray: pip install 'ecomctl[ray]'") from None
    if ray.is_initialized():
        return ray, False
    try:
        ray.init(address=address or None, include_dashboard=False, log_to_driver=False)
    except ConnectionError as e:
        raise BackendUnavailable(f"executor 'ray': cannot reach the cluster at {address!r}: {e}") from None
    return ray, True


def run(rows: list[SkuRow], ctx: RunContext, devices: list[str]) -> Iterator[ItemResult]:
    """Feed SKUs to the actors, at most two in flight per actor; yield results as they finish.

    A task that fails (the actor's process died, its node was lost) makes that SKU an error row; Ray
    restarts the actor (`max_restarts`) and the remaining SKUs keep flowing."""
    ray, started = connect(ctx.cfg.run.ray_address)
    try:
        yield from _dispatch(ray, rows, ctx, wants_gpu(devices))
    finally:
        if started:
            ray.shutdown()


def make_actors(ray: Any, ctx: RunContext, gpu: bool, count: int) -> list[Any]:
    cls = ray.remote(num_gpus=1 if gpu else 0, num_cpus=0 if gpu else 1, max_restarts=2)(RenderActor)
    return [cls.remote(ctx, gpu) for _ in range(count)]


def _dispatch(ray: Any, rows: list[SkuRow], ctx: RunContext, gpu: bool) -> Iterator[ItemResult]:
    if not rows:
        return
    actors = make_actors(ray, ctx, gpu, actor_count(ray, gpu, ctx.cfg.run.ray_actors, len(rows)))
    queue = list(reversed(rows))
    pending: dict[Any, tuple[SkuRow, Any]] = {}

    def submit(actor: Any) -> None:
        if queue:
            row = queue.pop()
            pending[actor.render.remote(row)] = (row, actor)

    for actor in actors:
        submit(actor)
        submit(actor)
    while pending:
        (ref,), _ = ray.wait(list(pending), num_returns=1)
        row, actor = pending.pop(ref)
        try:
            yield from ray.get(ref)
        except Exception as e:  # RayActorError, a lost node, a crash in the actor: that SKU is an error row
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            yield ItemResult(sku=row.sku, variant=None, status="error", where=row.where,
                             error=f"ray task failed: {type(e).__name__}: {first}")
        submit(actor)
