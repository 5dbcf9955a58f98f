"""Ray executor: SKUs render on long-lived Ray actors (one per GPU, or per CPU), each loading its pipeline once.

No SKU is lost to a lost actor: an actor whose process or node dies, or whose SKU outruns
`run.item_timeout`, is replaced, and the SKU it held is retried on a live actor. A SKU whose worker process
keeps dying (or that keeps timing out) becomes an error row after `run.max_attempts` tries; a lost node is
not charged to the SKU (it has its own bound). Rendering is idempotent and every write is atomic, so a retry
either resumes a finished poster or renders it again."""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ecomctl.engine import item
from ecomctl.engine.item import RunContext, render_sku
from ecomctl.errors import BackendUnavailable
from ecomctl.feed import Feed
from ecomctl.types import ItemResult, SkuRow

# SKUs sent to one actor at a time. One: when an actor dies, the SKU it held is the one it was running, and
# item_timeout runs from the moment it was sent. With a second SKU queued behind, an actor that finishes a
# SKU and dies on the next can take the first one's reply with it, and the wrong SKU is charged a try. The
# cost is one driver round trip (milliseconds) between SKUs that take seconds.
IN_FLIGHT = 1
NO_CAPACITY_WAIT = 60.0  # seconds to wait for a node to (re)join when the cluster has no CPU/GPU for an actor
# an actor's start (a Python process importing the engine and its models) is not a SKU's work: with room on
# the cluster it may take run.item_timeout, but never less than this, so a short per-SKU limit on a busy node
# does not turn a slow start into error rows
START_WAIT = 120.0
KILL_WAIT = 10.0  # seconds to wait, when the run ends or is closed, for killed actors to be confirmed dead
POLL = 1.0  # seconds between checks of item_timeout and of a stalled cluster


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

    def ready(self) -> bool:
        """Answered once `__init__` is done: the driver sends SKUs only to an actor that has started, so a
        SKU is never queued on an actor that cannot be scheduled or fails to build its backend."""
        return True

    def render(self, row: SkuRow) -> list[ItemResult]:
        self.items += 1
        return render_sku(row, self.ctx)

    def watch(self) -> None:
        """Never returns (it runs in its own concurrency group, beside `render`): its ref fails when the actor
        dies, so the driver learns of an idle actor's death and no SKU sent afterwards is charged for it."""
        import threading

        threading.Event().wait()

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
    refused = getattr(ray.exceptions, "AuthenticationError", ConnectionError)  # token auth: Ray >= 2.52
    try:
        ray.init(address=address or None, include_dashboard=False, log_to_driver=False)
    except (ConnectionError, refused) as e:
        # Ray reports a refused token as "Failed to connect", with the InvalidAuthToken in the cause
        token = refused is not ConnectionError and isinstance(e, refused)
        if token or "InvalidAuthToken" in f"{e} {e.__cause__}":
            raise BackendUnavailable(
                f"executor 'ray': the cluster at {address!r} uses token authentication and refused this "
                "machine: set RAY_AUTH_MODE=token and give it the cluster's token (~/.ray/auth_token, "
                "RAY_AUTH_TOKEN_PATH or RAY_AUTH_TOKEN; docs/cluster.md)") from None
        raise BackendUnavailable(f"executor 'ray': cannot reach the cluster at {address!r}: {e}") from None
    return ray, True


def run(rows: Feed | Iterable[SkuRow], ctx: RunContext, devices: list[str]) -> Iterator[ItemResult]:
    """Feed SKUs to the actors, one at a time per actor, as they arrive from `rows`; yield results as they
    finish.

    Closing the iterator (Ctrl-C, a full disk) stops dispatch and kills every actor of this run before it
    returns, so nothing writes into the output folder once the driver lets go of it."""
    ray, started = connect(ctx.cfg.run.ray_address)
    try:
        yield from _Dispatch(ray, ctx, wants_gpu(devices)).run(Feed.of(rows))
    finally:
        if started:
            ray.shutdown()


def make_actors(ray: Any, ctx: RunContext, gpu: bool, count: int) -> list[Any]:
    return [_actor_class(ray, gpu).remote(ctx, gpu) for _ in range(count)]


def _actor_class(ray: Any, gpu: bool) -> Any:
    # max_restarts=0: a dead actor stays dead and the dispatcher starts a fresh one itself, so a SKU is
    # never queued on a handle that Ray is still restarting (ActorUnavailableError) or cannot place;
    # `watch` has a concurrency group of its own so that it never holds up `render` (default group: one at a time)
    return ray.remote(num_gpus=1 if gpu else 0, num_cpus=0 if gpu else 1, max_restarts=0,
                      concurrency_groups={WATCH: 1})(RenderActor)


WATCH = "watch"  # the actors' concurrency group of `watch`


def lost_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """Ray's errors for work lost with its actor, worker process or node (not an error of the SKU):
    RayActorError covers ActorDiedError and ActorUnavailableError, ObjectLostError covers OwnerDiedError."""
    names = ("RayActorError", "WorkerCrashedError", "NodeDiedError", "ObjectLostError",
             "LocalRayletDiedError", "TaskCancelledError")
    return tuple(getattr(ray.exceptions, n) for n in names if hasattr(ray.exceptions, n))


@dataclass(eq=False)
class _Slot:
    """One actor as the driver sees it: started or not, and its SKUs in the order they were sent."""

    handle: Any
    ping: Any  # ObjectRef of `ready()`
    ready: bool = False
    flight: list[tuple[Any, SkuRow]] = field(default_factory=list)  # (ref, row); flight[0] runs, others wait
    since: float | None = None  # when flight[0] started, as seen from here: its item_timeout clock
    watch: Any = None  # ObjectRef of `watch()` once started: it fails when the actor dies


@dataclass
class _Tries:
    """What went wrong each time a SKU was on an actor that was lost or that it outran. A lost node is
    counted apart: the SKU did not kill it, and it may only have been sent to an actor whose node was
    already gone (the driver learns of a lost node seconds late), so it does not use up the SKU's tries."""

    history: list[str] = field(default_factory=list)
    charged: int = 0  # its worker process died, or it outran item_timeout: against run.max_attempts
    timeouts: int = 0
    nodes: int = 0  # its actor's node was lost


class _Dispatch:
    """Dispatch for one run: the actors, the queue, the refs in flight and each SKU's failed tries."""

    def __init__(self, ray: Any, ctx: RunContext, gpu: bool):
        self.ray, self.ctx, self.gpu = ray, ctx, gpu
        self.cls = _actor_class(ray, gpu)
        self.lost = lost_errors(ray)
        self.max_attempts = ctx.cfg.run.max_attempts
        self.timeout = ctx.cfg.run.item_timeout
        self.slots: list[_Slot] = []
        self.created: list[Any] = []  # every actor handle of this run, killed when the run ends
        self.queue: deque[SkuRow] = deque()
        self.tries: dict[str, _Tries] = {}
        self.spares = 0  # replacements still allowed
        self.last_loss = ""  # the latest reason an actor was lost, for the "no actor left" error
        self.feed = Feed()

    def run(self, feed: Feed) -> Iterator[ItemResult]:
        self.feed = feed
        self.queue.extend(feed.take())
        if not self.queue and feed.ended:
            return
        # actors for every row the feed may still bring (photos by URL arrive as they download)
        count = actor_count(self.ray, self.gpu, self.ctx.cfg.run.ray_actors, max(1, len(feed.planned)))
        self.spares = count * self.max_attempts  # a bound, so actors that keep dying cannot loop forever
        try:
            for _ in range(count):
                self._spawn()
            yield from self._loop()
        finally:  # also on close() (GeneratorExit at a yield) and Ctrl-C: stop at once, kill what we started
            self.queue.clear()
            self._kill_all()

    # -- the loop -------------------------------------------------------------------------------------

    def _loop(self) -> Iterator[ItemResult]:
        stalled: float | None = None
        while self.queue or any(s.flight for s in self.slots) or not self.feed.ended:
            self.queue.extend(self.feed.take())
            self._fill()
            waiting = {s.ping: s for s in self.slots if not s.ready}
            running = {ref: s for s in self.slots for ref, _ in s.flight}
            watched = {s.watch: s for s in self.slots if s.watch is not None}
            if not running and not self.queue:  # idle: the next rows are still downloading
                stalled = None
                if not waiting:
                    self.feed.wait(POLL)
                    continue
            elif not running:  # nothing can finish: is an actor still coming?
                if not waiting:
                    why = self.last_loss or "none started"
                    yield from self._fail_rest(f"no Ray actor left to render on ({why})")
                    return
                stalled = stalled or time.monotonic()
                reason = self._stall_reason(time.monotonic() - stalled)
                if reason:
                    yield from self._fail_rest(reason)
                    return
            else:
                stalled = None
            done, _ = self.ray.wait([*waiting, *running, *watched], num_returns=1, timeout=POLL)
            for ref in done:
                if ref in waiting:
                    self._started(waiting[ref])
                elif ref in running:
                    yield from self._finished(running[ref], ref)
                elif ref in watched and watched[ref] in self.slots:
                    self._died(watched[ref])
            yield from self._check_timeouts()

    def _fill(self) -> None:
        now = time.monotonic()
        for slot in list(self.slots):
            if slot.ready and self.queue and not slot.flight and self._dead(slot):
                continue  # an idle actor that died: replaced, and no SKU is sent to it
            while slot.ready and self.queue and len(slot.flight) < IN_FLIGHT:
                row = self.queue.popleft()
                slot.flight.append((slot.handle.render.remote(row), row))
                if len(slot.flight) == 1:
                    slot.since = now

    def _spawn(self) -> None:
        handle = self.cls.remote(self.ctx, self.gpu)
        self.created.append(handle)
        self.slots.append(_Slot(handle, handle.ready.remote()))

    def _dead(self, slot: _Slot) -> bool:
        """Whether Ray already knows the (idle) actor is dead; then it is dropped and replaced."""
        if slot.watch is None or not self.ray.wait([slot.watch], timeout=0)[0]:
            return False
        self._died(slot)
        return True

    def _died(self, slot: _Slot) -> None:
        """The actor's `watch` ref failed: it died. With no SKU on it, no SKU is charged: it is dropped and
        replaced. With a SKU on it, that SKU's own ref fails too and `_finished` judges the loss."""
        ref, slot.watch = slot.watch, None
        if slot.flight:
            return
        try:
            self.ray.get(ref)
            reason = "its watch returned"
        except Exception as e:  # noqa: BLE001 - the error Ray gives for a dead actor, whatever its class
            reason = _describe(e)
        self._drop(slot, f"idle: {reason}", replace=True)

    def _started(self, slot: _Slot) -> None:
        try:
            self.ray.get(slot.ping)
            slot.ready = True
            slot.watch = slot.handle.watch.options(concurrency_group=WATCH).remote()
        except self.lost as e:  # died while starting (its node was lost): no SKU was on it
            self._drop(slot, _describe(e), replace=not getattr(e, "actor_init_failed", False))
        except Exception as e:  # noqa: BLE001 - its __init__ raised (no backend on that node): no retry
            self._drop(slot, _describe(e), replace=False)

    def _finished(self, slot: _Slot, ref: Any) -> Iterator[ItemResult]:
        index = next(i for i, (r, _) in enumerate(slot.flight) if r == ref)
        try:
            results = self.ray.get(ref)
        except self.lost as e:
            yield from self._lose(slot, _describe(e), "node" if _node_lost(e) else "worker")
            return
        except Exception as e:  # noqa: BLE001 - not a lost actor (a result that cannot come back): error row
            row = slot.flight.pop(index)[1]
            yield self._error_row(row, f"ray task failed: {type(e).__name__}: {_first_line(e)}", str(e))
        else:
            slot.flight.pop(index)
            yield from results
        if index == 0:
            slot.since = time.monotonic() if slot.flight else None

    def _lose(self, slot: _Slot, reason: str, cause: str) -> Iterator[ItemResult]:
        """The actor is gone. The first of its SKUs that did not come back was running: a try against it.
        The ones behind it had not started (an actor runs one at a time): they are queued again for free.
        Results that did come back (finished just before the loss) are kept."""
        blamed = True
        for ref, row in list(slot.flight):
            if blamed:
                results = self._came_back(ref)
                if results is not None:
                    yield from results
                    continue
                blamed = False
                yield from self._retry(row, reason, cause)
            else:
                self.queue.appendleft(row)
        slot.flight.clear()
        self._drop(slot, reason, replace=True)

    def _came_back(self, ref: Any) -> list[ItemResult] | None:
        """A SKU's results if they reached us before its actor was lost, else None."""
        if not self.ray.wait([ref], timeout=0)[0]:
            return None
        with contextlib.suppress(Exception):  # it failed with the actor
            return self.ray.get(ref)
        return None

    def _retry(self, row: SkuRow, reason: str, cause: str) -> Iterator[ItemResult]:
        """Queue a SKU whose try was lost (`cause`: worker, node or timeout), first in line, or make it an
        error row: after `run.max_attempts` tries lost to its worker or to item_timeout, after a second
        timeout (one more try, as on the process pool), or after `run.max_attempts` lost nodes."""
        tries = self.tries.setdefault(row.sku, _Tries())
        tries.history.append(f"{cause}: {reason}")
        tries.charged += cause != "node"
        tries.timeouts += cause == "timeout"
        tries.nodes += cause == "node"
        if cause == "timeout" and (tries.timeouts >= 2 or tries.charged >= self.max_attempts):
            yield self._error_row(row, f"timed out after {self.timeout:g} s (run.item_timeout)",
                                  self._history(tries))
        elif tries.charged >= self.max_attempts:
            yield self._error_row(row, f"Ray actor lost {tries.charged} times on this SKU (last: "
                                       f"{_summary(reason)})", self._history(tries))
        elif tries.nodes >= self.max_attempts:
            yield self._error_row(row, f"its Ray node was lost {tries.nodes} times while it held this SKU "
                                       f"(last: {_summary(reason)})", self._history(tries))
        else:
            self.queue.appendleft(row)

    def _check_timeouts(self) -> Iterator[ItemResult]:
        if not self.timeout:
            return
        now = time.monotonic()
        for slot in list(self.slots):
            if slot.flight and slot.since is not None and now - slot.since > self.timeout:
                self._kill(slot.handle)  # the only way to stop a SKU stuck in native code
                row = slot.flight[0][1]
                for _, queued in reversed(slot.flight[1:]):
                    self.queue.appendleft(queued)
                slot.flight.clear()
                why = f"ran longer than {self.timeout:g} s (run.item_timeout); its actor was killed"
                out = list(self._retry(row, why, "timeout"))
                self._drop(slot, "an actor was killed for run.item_timeout", replace=True)  # after the requeue
                yield from out

    def _drop(self, slot: _Slot, reason: str, replace: bool) -> None:
        """Take a lost actor out of dispatch (and make sure it is dead); start a fresh one in its place
        while the replacement budget lasts. Ray schedules it wherever the cluster has room."""
        self.last_loss = _summary(reason) if reason else self.last_loss
        self.slots.remove(slot)
        self._kill(slot.handle)
        if replace and self.spares > 0 and (self.queue or not self.feed.ended):
            self.spares -= 1
            self._spawn()

    def _stall_reason(self, stalled_s: float) -> str | None:
        """Why the run must stop waiting for an actor to start, or None while a wait is still reasonable:
        a cluster with no CPU/GPU at all for `NO_CAPACITY_WAIT` s (its nodes were lost and none came back),
        or, with room, no actor started within `run.item_timeout` (at least `START_WAIT` s)."""
        resource = "GPU" if self.gpu else "CPU"
        have = self.ray.cluster_resources().get(resource, 0)
        if have < 1 and stalled_s > NO_CAPACITY_WAIT:
            return (f"no Ray actor can start: the cluster has no {resource} left for {stalled_s:.0f} s "
                    f"(nodes lost; ray status shows its resources)")
        if self.timeout and stalled_s > max(self.timeout, START_WAIT):
            return f"no Ray actor started within {max(self.timeout, START_WAIT):g} s (run.item_timeout, at least {START_WAIT:g} s)"
        return None

    def _fail_rest(self, reason: str) -> Iterator[ItemResult]:
        """Every row still queued or still to come from the feed is an error row. The reason is the run's
        (the cluster has no actor left), not the SKU's: a SKU that never lost a try gets its one-line row and
        no log of its own (a lost cluster wrote one log per SKU, each the same line); one that did keeps its
        story in OUT/logs/<sku>.log."""
        for row in [*self.queue, *self.feed]:
            if row.sku in self.tries:
                yield self._error_row(row, reason, self._history(self.tries[row.sku]))
            else:
                yield ItemResult(sku=row.sku, variant=None, status="error", error=reason, where=row.where)
        self.queue.clear()

    # -- results and clean-up -------------------------------------------------------------------------

    def _history(self, tries: _Tries) -> str:
        lines = [(f"tries lost: {tries.charged} of {self.max_attempts} (run.max_attempts) to its worker or "
                  f"item_timeout, {tries.nodes} to a lost node")]
        for i, reason in enumerate(tries.history, 1):
            lines.append(f"  try {i}, {reason}".replace("\n", "\n    "))
        return "\n".join(lines)

    def _error_row(self, row: SkuRow, message: str, detail: str) -> ItemResult:
        """One error row, with the whole story in OUT/logs/<sku>.log."""
        return item.lost_row(row, self.ctx, "ray", message, detail)

    def _kill_all(self) -> None:
        """Kill every actor this run started and wait (bounded) until Ray confirms: their refs fail once the
        actor is dead, so no actor is still writing when the driver returns."""
        refs = [ref for s in self.slots for ref, _ in s.flight] + [s.ping for s in self.slots if not s.ready]
        for handle in self.created:
            self._kill(handle)
        self.slots.clear()
        if refs:
            with contextlib.suppress(Exception):  # Ray itself is gone (shut down under us): so are the actors
                self.ray.wait(refs, num_returns=len(refs), timeout=KILL_WAIT)

    def _kill(self, handle: Any) -> None:
        with contextlib.suppress(Exception):  # already gone, or Ray is shutting down
            self.ray.kill(handle, no_restart=True)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _summary(text: str, limit: int = 160) -> str:
    """One line of a Ray error for the error row. Ray's message for a lost actor is a header, the actor's
    fields (class_name, actor_id, pid, ip…) and then the why ("The actor died because its node has died",
    "... its worker process has died"): keep the error class and the why."""
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [""]
    why = next((line for line in lines[1:] if line.split(":", 1)[0] not in _FIELDS), None)
    kind = lines[0].split(": ", 1)[0] if why and ": " in lines[0] else ""
    line = f"{kind}: {why}" if kind else lines[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


_FIELDS = {"class_name", "actor_id", "pid", "name", "namespace", "ip"}


def _node_lost(e: BaseException) -> bool:
    """Whether Ray says the actor went with its node (lost, preempted, unreachable), not with a crash of its
    own process. Ray's ActorDiedError carries that only in its message ("The actor died because its node
    has died", "the actor's node was terminated ...")."""
    kind = type(e).__name__
    if getattr(e, "preempted", False):
        return True
    if kind in ("NodeDiedError", "LocalRayletDiedError", "ActorUnavailableError"):
        return True
    text = str(e)
    return "its node has died" in text or "node was terminated" in text


def _describe(e: BaseException) -> str:
    """A lost actor's error for the log: its class and Ray's message (which names the actor, its pid and
    node, and why it died)."""
    return f"{type(e).__name__}: {str(e).strip()}"
