"""Executors: where SKUs render — serial, a CPU process pool, one process per GPU, or a Ray cluster."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.managers import SyncManager
from typing import Any

from ecomctl.engine import item
from ecomctl.engine.item import RunContext, render_sku
from ecomctl.errors import ConfigError
from ecomctl.feed import Feed
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


def run(kind: str, rows: Feed | Iterable[SkuRow], ctx: RunContext) -> Iterator[ItemResult]:
    """Results of every row, as they arrive (a Feed: photos by URL come in as their download finishes). A row
    an earlier run finished is judged here, in the main process, from its sidecars and stat data (no worker,
    pool or actor is involved for it); the rest go to the executor, which starts only once a row needs it,
    so a no-op night dispatches nothing. The feed's own results (a photo that could not be fetched) come out
    between the executor's. With `ctx.replan` (--replan) every row goes to the executor: its worker plans
    each finished poster's layout again and compares it with the stored one (item.layout_changed)."""
    feed = Feed.of(rows)
    if not ctx.force and ctx.cfg.run.skip_finished and not ctx.replan:
        feed.screen = lambda row: _finished(row, ctx)
    while True:
        rows_now = feed.take()
        yield from feed.results()
        if rows_now:
            feed.give_back(rows_now)
            break
        if feed.ended:
            return
        feed.wait()
    work = _executor(kind, feed, ctx)
    try:
        for res in work:
            yield from feed.results()
            yield res
    finally:
        work.close()
    yield from feed.results()


def _finished(row: SkuRow, ctx: RunContext) -> list[ItemResult] | None:
    """The stored results of a SKU whose posters and verdicts are current, else None (it is dispatched; the
    worker decides between re-grading and rendering, and any surprise here becomes its error row there)."""
    try:
        return item.resume_state(row, ctx).done
    except Exception:  # noqa: BLE001 — an unreadable photo, a style file gone …: the worker reports it as the SKU's error
        return None


def _executor(kind: str, rows: Feed, ctx: RunContext) -> Iterator[ItemResult]:
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


def _serial(rows: Feed, ctx: RunContext) -> Iterator[ItemResult]:
    for row in rows:  # waits for each row to arrive
        yield from render_sku(row, ctx)


def _die_with_parent(parent: int) -> None:
    """In a child process: ignore Ctrl-C (the main process stops us) and, on Linux, get SIGKILL when the
    main process dies, even by SIGKILL; no pool worker or manager outlives the run."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        # our parent is the main process (spawn) or its fork server, which exits when the main process
        # does; either way, if the main process is already gone, so are we
        if os.getppid() == 1 or not _alive(parent):
            os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _context(devices: list[str] | None) -> Any:
    """How worker processes start. GPU workers are spawned (CUDA and torch want a fresh interpreter).
    CPU workers fork from a fork server that imported `engine/preload.py` once: it was started clean
    (no thread pools, no models), so forking it is safe, and each worker skips ~2 CPU-s of imports.
    Without a fork server (Windows), spawn."""
    if devices or "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    # "__main__": the server imports the parent's main script (the console script: the CLI) as each worker
    # would, so workers find it loaded; the engine names no module above it
    ctx.set_forkserver_preload(["__main__", "ecomctl.engine.preload"])
    return ctx


def prestart(cfg: Any) -> None:
    """Start the CPU pool's fork server now when the run will likely use one, so the server's imports
    (~1.5 CPU-s) overlap the main process's own start-up (manifest, checks) instead of following it."""
    several_rows = 2  # the manifest is not read yet: assume a run with more than one SKU
    if choose(cfg.run.executor, cfg.run.workers, devices_of(cfg.render.device), several_rows) != "process":
        return
    if _context(None).get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def stop_fork_server() -> None:
    """Stop the fork server once the run is done and reap it: it reaped the workers, so their CPU time
    reaches this process's children accounting (what `ecomctl bench` and `time` measure), and no idle
    server lingers in a long-lived process. The run (`runner.run_render`) calls this, not each pool: a
    campaign or keep-scene run opens several pools in a row and they all fork from one server, which pays
    its imports (~1.5 CPU-s) once. Private API, hence the guard."""
    from multiprocessing import forkserver

    global _FORKED
    server = getattr(forkserver, "_forkserver", None)
    stop = getattr(server, "_stop", None)
    pid = getattr(server, "_forkserver_pid", None)
    if stop is not None and pid is not None:
        if not _FORKED:  # started early but never forked from (a no-op night): do not wait for its imports
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        stop()
    _FORKED = False


_FORKED = False  # whether a pool of this run forked from the fork server (else stopping it need not wait)


def _manager() -> SyncManager:
    manager = SyncManager(ctx=_context(None))
    manager.start(_die_with_parent, (os.getpid(),))
    return manager


def _worker_init(queue: Any | None, parent: int) -> None:
    """Pool initializer. A worker dies with the main process, however that ends (SIGKILL included), so it
    can never outlive the run and write into a folder whose lock was released; Ctrl-C at a terminal
    (SIGINT to the whole process group) is the main process's to handle: it stops the workers itself.
    With devices, each worker takes one for its whole life."""
    _die_with_parent(parent)
    if queue is not None:
        item.WORKER_DEVICE = queue.get()


Task = Callable[[SkuRow, RunContext], list[ItemResult]]


def _pool(rows: Feed | Iterable[SkuRow], ctx: RunContext, workers: int, devices: list[str] | None,
          task: Task = render_sku) -> Iterator[ItemResult]:
    """Run SKUs in worker processes. A worker that dies (killed for memory, a native crash) breaks the
    whole pool: SKUs that had not started go to a fresh pool; those that were running are retried one
    at a time, alone, so the SKU that kills its worker is found exactly and only it becomes an error row.
    A SKU running longer than `run.item_timeout` seconds has its pool's workers killed: the same path.
    Rows are submitted as they arrive from the feed. The fork server outlives the pool: whoever runs the
    pools stops it (`stop_fork_server`) at the end."""
    yield from _rounds(Feed.of(rows), ctx, workers, devices, task)


def _rounds(feed: Feed, ctx: RunContext, workers: int, devices: list[str] | None,
            task: Task) -> Iterator[ItemResult]:
    global _FORKED
    _FORKED = True
    timeout = ctx.cfg.run.item_timeout
    with _manager() as manager:
        while not feed.ended:
            started = manager.dict()
            broken: list[SkuRow] = []
            yield from _pool_round(feed, ctx, workers, devices, task, started, broken, timeout, set())
            suspects = [r for r in broken if r.sku in started]
            feed.give_back(r for r in broken if r.sku not in started)  # first in the next round
            for row in suspects:
                yield from _alone(row, ctx, devices, task, started, timeout)


def _alone(row: SkuRow, ctx: RunContext, devices: list[str] | None, task: Task, started: Any,
           timeout: float | None) -> Iterator[ItemResult]:
    """A SKU that was running when its pool broke (it may have killed the worker, or been a bystander):
    tried again alone in a fresh one-worker pool until it finishes, up to `run.max_attempts` tries in all
    (at least one alone: a pool's bystanders cannot be told from the SKU that broke it). A SKU that outran
    `run.item_timeout` gets one more try, alone, as on Ray."""
    tries = 1
    alone_tries = max(1, ctx.cfg.run.max_attempts - 1)
    for _ in range(alone_tries):
        broken: list[SkuRow] = []
        late: set[str] = set()
        tries += 1
        yield from _pool_round(Feed([row]), ctx, 1, devices[:1] if devices else None, task, started, broken, timeout,
                               late)
        if not broken:
            return
        if late:
            yield _error(row, f"timed out after {timeout:g} s (run.item_timeout)", ctx,
                         f"tries: {tries}; it outran the limit in a pool round (its workers were killed), "
                         "then again alone in a fresh pool")
            return
    yield _error(row, "worker process died on this SKU (out of memory or a native crash)", ctx,
                 f"tries: {tries}; its worker died in a pool round (every SKU then running was retried), then "
                 f"{'every time' if tries > 2 else 'again'} when it ran alone in a fresh pool (run.max_attempts: "
                 f"{ctx.cfg.run.max_attempts})")


def _pool_round(feed: Feed, ctx: RunContext, workers: int, devices: list[str] | None, task: Task,
                started: Any, broken: list[SkuRow], timeout: float | None, late: set[str]
                ) -> Iterator[ItemResult]:
    """One pool, fed from `feed` until it ends or the pool breaks (then the rest waits in the feed)."""
    pool = _make_pool(workers, devices)
    try:
        futures: dict[Any, SkuRow] = {}
        waiting: set[Any] = set()
        finished: set[str] = set()
        while True:
            if not broken:  # a broken pool takes nothing more: the next round does
                rows = feed.take()
                for i, row in enumerate(rows):
                    try:
                        fut = pool.submit(_tracked, task, row, ctx, started)
                    except BrokenProcessPool:
                        broken.append(row)
                        feed.give_back(rows[i + 1:])
                        break
                    futures[fut] = row
                    waiting.add(fut)
            arrival = None if broken else feed.arrival()
            if not waiting and arrival is None:
                break
            watch = waiting | {arrival} if arrival is not None else waiting
            done, _ = wait(watch, timeout=1.0 if timeout else None, return_when=FIRST_COMPLETED)
            for fut in done:
                if fut is arrival:
                    continue
                waiting.discard(fut)
                row = futures.pop(fut)  # a finished future (and the results it holds) is not kept for the round
                finished.add(row.sku)
                try:
                    yield from fut.result()
                except BrokenProcessPool:
                    broken.append(row)
                except Exception as e:  # noqa: BLE001 — an error the task did not catch: that SKU is an error row
                    yield _error(row, f"worker failed: {type(e).__name__}: {e}")
            if timeout and waiting:
                now = time.time()
                overdue = {s for s, t0 in started.items() if s not in finished and now - t0 > timeout}
                if overdue:
                    late |= overdue
                    _kill_workers(pool)
    except BaseException:  # SIGINT/SIGTERM (Interrupted), or the consumer closed us: no worker outlives this
        _stop(pool)
        raise
    pool.shutdown(wait=True)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Kill the workers and wait until they are gone, so nothing writes once the lock is released."""
    procs = list(getattr(pool, "_processes", {}).values())
    _kill_workers(pool)
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.join(timeout=10)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """Kill a pool's worker processes (a hung SKU cannot be interrupted any other way); the pool then
    reports BrokenProcessPool for its unfinished work, which `_pool` re-queues."""
    for proc in list(getattr(pool, "_processes", {}).values()):  # private, but the only handle there is
        proc.kill()


def _tracked(task: Task, row: SkuRow, ctx: RunContext, started: Any) -> list[ItemResult]:
    started[row.sku] = time.time()  # the parent tells running SKUs from queued ones, and times them
    return task(row, ctx)


def _make_pool(workers: int, devices: list[str] | None) -> ProcessPoolExecutor:
    # never a plain fork of this process (its threads and loaded models); each worker loads models once
    queue = None
    if devices:
        queue = _manager().Queue()
        for d in devices:
            queue.put(d)
    return ProcessPoolExecutor(workers, mp_context=_context(devices), initializer=_worker_init,
                               initargs=(queue, os.getpid()))


def _error(row: SkuRow, message: str, ctx: RunContext | None = None, story: str = "") -> ItemResult:
    """An error row; with `ctx`, the story (a worker died or timed out) goes to OUT/logs/<sku>.log."""
    if ctx is not None:
        return item.lost_row(row, ctx, "process pool", message, story)
    return ItemResult(sku=row.sku, variant=None, status="error", error=message, where=row.where)


def _ray(rows: Feed, ctx: RunContext, devices: list[str]) -> Iterator[ItemResult]:
    from ecomctl.engine import ray_exec  # Ray is an optional extra; imported only for this executor

    return ray_exec.run(rows, ctx, devices)
