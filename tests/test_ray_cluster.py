"""The Ray executor on a real two-node Ray cluster on this machine (loopback only, token authentication on):
a node lost mid-run costs retries, not SKUs; a SKU that kills its actor every time ends as an error row
after `run.max_attempts` tries; `run.item_timeout` holds; a cluster left with no CPU fails, not hangs.

The cluster is `ray.cluster_utils.Cluster` (a head and a second raylet, each its own processes, both on
127.0.0.1): `ray start --address=127.0.0.1:…` cannot make a loopback worker node on Linux (Ray swaps
127.0.0.1 for the machine's network address, and refuses a second node when told to stay on loopback), so
the second raylet is started through the same Node API that `ray start` uses. A node is lost as in the
field: its raylet gets SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ecomctl.config import load_config
from ecomctl.engine import ray_exec
from ecomctl.engine.runner import run_render
from tests.conftest import make_product, write_manifest

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow
TOKEN_AUTH = hasattr(ray._raylet, "AuthenticationTokenLoader")  # Ray >= 2.52 (ecomctl allows ray >= 2.9)

# the head notices a dead raylet in ~1.5 s instead of Ray's default ~30 s (internal, but stable, names)
FAST_HEALTH_CHECK = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500,
                     "health_check_timeout_ms": 500, "health_check_failure_threshold": 3}


def _reload_ray_auth() -> None:
    """Make this (already running) Python process re-read RAY_AUTH_MODE / RAY_AUTH_TOKEN_PATH, as a fresh
    `ecomctl render` would at start; the same two calls Ray makes when it turns token mode on itself."""
    if not TOKEN_AUTH:
        return
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


@pytest.fixture
def cluster(request, tmp_path_factory, monkeypatch):
    """A head (1 CPU, or `request.param` CPUs) and a worker node (1 CPU) on 127.0.0.1 with token
    authentication (a token of this test only, made by `ray get-auth-token --generate` in a throw-away
    HOME); yields (cluster, worker node)."""
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    assert not ray.is_initialized()
    if TOKEN_AUTH:
        home = tmp_path_factory.mktemp("home")
        env = {**os.environ, "HOME": str(home)}
        cli = Path(sys.executable).with_name("ray")
        subprocess.run([str(cli), "get-auth-token", "--generate"], env=env, check=True, capture_output=True,
                       timeout=120)
        token = home / ".ray" / "auth_token"
        assert len(token.read_text().strip()) == 64
        monkeypatch.setenv("RAY_AUTH_MODE", "token")
        monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
        monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    # loopback only: Ray maps 127.0.0.1 to this machine's network address unless told it is not a cluster
    # host; the env var reaches every process the nodes start, the attribute this one (read at import)
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
    # Cluster() would record its address in /tmp/ray/ray_current_cluster, where `address: auto` of anyone
    # on this machine looks; the tests give their address explicitly
    monkeypatch.setattr(ray._private.utils, "write_ray_address", lambda *a, **k: None)
    _reload_ray_auth()
    c = Cluster(initialize_head=True, head_node_args={
        "node_ip_address": "127.0.0.1", "num_cpus": getattr(request, "param", 1), "include_dashboard": False,
        "_system_config": FAST_HEALTH_CHECK})
    try:
        worker = c.add_node(node_ip_address="127.0.0.1", num_cpus=1)
        assert c.address.startswith("127.0.0.1:")
        yield c, worker
    finally:
        if ray.is_initialized():
            ray.shutdown()
        session = Path(c.head_node.get_session_dir_path())
        c.shutdown()
        monkeypatch.undo()
        _reload_ray_auth()
        _remove_session(session)


_SESSIONS: list[Path] = []  # session folders of this module's clusters, removed again when the module ends


@pytest.fixture(scope="module", autouse=True)
def _no_session_left():
    """A process of a cluster that was still exiting can make its (empty) session folder again after the
    test removed it: every one is removed once more when this module's tests are done."""
    yield
    for session in _SESSIONS:
        _remove_session(session, tries=1)


def _remove_session(session: Path, tries: int = 20) -> None:
    """The cluster's session folder (/tmp/ray/session_…: its logs, sockets, spilled objects) goes with it;
    so does /tmp/ray/session_latest when it points there."""
    import shutil

    latest = session.parent / "session_latest"
    if latest.is_symlink() and Path(os.readlink(latest)) == session:
        latest.unlink(missing_ok=True)
    if not session.name.startswith("session_"):
        return
    if session not in _SESSIONS:
        _SESSIONS.append(session)
    for _ in range(tries):  # a process of the cluster that is still exiting may write its last log file in it
        shutil.rmtree(session, ignore_errors=True)
        time.sleep(0.25)
        if not session.exists():
            return


def _kill_node(node) -> None:
    """Lose a node as a machine is lost: SIGKILL to its raylet and, at the same instant, to the worker
    processes it started (our actors among them). A raylet killed alone leaves its workers running for a
    while, still finishing SKUs; a vanished machine does not."""
    import psutil  # a dependency of Ray

    raylet = psutil.Process(node.all_processes["raylet"][0].process.pid)
    for proc in [raylet, *raylet.children(recursive=True)]:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass


def _manifest(tmp_path: Path, titles: list[str]) -> Path:
    make_product(tmp_path / "p.png", (160, 200))
    return write_manifest(tmp_path / "m.csv", [
        {"sku": f"S{i:02d}" if t == "ok" else t, "image": "p.png", "title": f"Item {i}" if t == "ok" else t,
         "size": "256x256", "variants": "1"} for i, t in enumerate(titles)])


def _cfg(out: Path, **over):
    return load_config(None, {"run.out": str(out), "qa.text.enabled": False, "render.variants": 1, **over})


def _pixels(out: Path) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(Image.open(p)) for p in sorted(out.glob("*/*-v*.png")) if p.name.count(".") == 1}


@pytest.fixture
def tries(monkeypatch) -> list[tuple[str, str, str]]:
    """Each (sku, cause, reason) the dispatcher counted as a lost try: a spy on the driver side; Ray is real."""
    seen: list[tuple[str, str, str]] = []
    real = ray_exec._Dispatch._retry

    def spy(self, row, reason, cause):
        seen.append((row.sku, cause, reason))
        return real(self, row, reason, cause)

    monkeypatch.setattr(ray_exec._Dispatch, "_retry", spy)
    return seen


def _test_hooks():
    """A `worker_process_setup_hook` for the actors of a test (shipped by value; no production backdoor):
    a row titled CRASH kills its worker process, one titled HANG sleeps far past any item_timeout."""

    def setup() -> None:
        from ecomctl.engine import ray_exec as actor_side

        real = actor_side.render_sku

        def render_sku(row, ctx):
            if row.title == "CRASH":
                os._exit(1)
            if row.title == "HANG":
                time.sleep(3600)
            return real(row, ctx)

        actor_side.render_sku = render_sku

    return setup


def test_a_node_lost_mid_run_costs_retries_not_skus(cluster, tmp_path: Path, tries, monkeypatch):
    c, worker = cluster
    manifest = _manifest(tmp_path, ["ok"] * 24)
    serial = run_render(manifest, _cfg(tmp_path / "serial"))
    # kill the worker node while its actor renders its second SKU: found by spies on the dispatcher (which
    # ask each actor where it runs once it has started); Ray and the kill are real
    killed: list[str] = []
    node_of: dict[int, str] = {}
    returned: set[int] = set()
    real_started, real_finished, real_fill = (ray_exec._Dispatch._started, ray_exec._Dispatch._finished,
                                              ray_exec._Dispatch._fill)

    def started(self, slot):
        real_started(self, slot)
        if slot.ready:
            node_of[id(slot)] = ray.get(slot.handle.info.remote())["node"]

    def finished(self, slot, ref):
        yield from real_finished(self, slot, ref)
        returned.add(id(slot))

    def fill(self):
        if len(node_of) < 2 and time.monotonic() - t0 < 60:
            return  # hold dispatch until both actors started (the second node's first worker is slow)
        real_fill(self)
        for slot in self.slots:
            if not killed and id(slot) in returned and node_of.get(id(slot)) == worker.node_id and slot.flight:
                time.sleep(0.1)  # it has started on the SKU (one takes ~0.3 s here)
                _kill_node(worker)
                killed.append(slot.flight[0][1].sku)

    monkeypatch.setattr(ray_exec._Dispatch, "_started", started)
    monkeypatch.setattr(ray_exec._Dispatch, "_finished", finished)
    t0 = time.monotonic()
    monkeypatch.setattr(ray_exec._Dispatch, "_fill", fill)
    summary = run_render(manifest, _cfg(tmp_path / "ray", **{"run.executor": "ray", "run.ray_address": c.address}))
    seconds = time.monotonic() - t0
    assert killed, "the worker node's actor never returned a SKU"
    assert sorted(node_of.values())[:2] != [worker.node_id] * 2  # one actor per node
    assert [r for r in summary.results if r.status == "error"] == []
    assert summary.exit_code == 0 and len(summary.results) == 24
    # one SKU was on the node's actor when it went (the one sent just before the kill, or the next one if
    # that had already finished): it went back to the queue as a lost node's try, and no other SKU did
    assert len(tries) == 1 and tries[0][1] == "node" and tries[0][0] >= killed[0], tries
    a, b = _pixels(tmp_path / "serial"), _pixels(tmp_path / "ray")
    assert serial.exit_code == 0 and a.keys() == b.keys() and len(a) == 24
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not ray.is_initialized()  # ecomctl connected with run.ray_address, so it disconnected
    print(f"node lost while running {killed[0]}: {len(tries)} try lost, 24/24 rendered in {seconds:.1f} s")


def test_a_sku_that_kills_its_actor_every_time_is_an_error_row_with_a_log(cluster, tmp_path: Path, tries):
    c, _ = cluster
    ray.init(address=c.address, log_to_driver=False, runtime_env={"worker_process_setup_hook": _test_hooks()})
    manifest = _manifest(tmp_path, ["CRASH", "ok", "ok", "ok", "ok", "ok"])
    out = tmp_path / "out"
    summary = run_render(manifest, _cfg(out, **{"run.executor": "ray"}))
    rows = {r.sku: r for r in summary.results}
    crash = rows.pop("CRASH")
    assert crash.status == "error" and crash.error.startswith("Ray actor lost 3 times on this SKU (last: ")
    assert "worker process has died" in crash.error
    assert all(r.status != "error" for r in rows.values()) and len(rows) == 5
    assert summary.exit_code == 1
    # only the SKU that was running counts a try; the SKUs on the other actor, and those sent to the
    # replacements, were not charged
    assert [(sku, cause) for sku, cause, _ in tries] == [("CRASH", "worker")] * 3
    assert crash.log == out / "logs" / "CRASH.log"
    log = crash.log.read_text()
    assert "tries lost: 3 of 3 (run.max_attempts)" in log and "  try 3, worker: ActorDiedError" in log
    assert ray.is_initialized()  # a Ray the caller started is left running


def test_an_idle_actor_that_dies_costs_no_sku_a_try(cluster, tmp_path: Path, tries, monkeypatch):
    """An actor whose worker process dies while it holds no SKU (killed for memory between SKUs): the next
    SKU is not charged a try for it (it was charged one: the driver sent it to the dead actor), the actor is
    replaced, every SKU renders."""
    import psutil

    c, _ = cluster
    ray.init(address=c.address, log_to_driver=False)
    killed: list[int] = []
    real_started = ray_exec._Dispatch._started

    def started(self, slot):
        real_started(self, slot)
        if slot.ready and not killed:  # the first actor to start dies before it is sent anything
            pid = ray.get(slot.handle.info.remote())["pid"]
            psutil.Process(pid).kill()
            killed.append(pid)
            with pytest.raises(ray.exceptions.RayActorError):  # Ray knows it is dead: a call to it fails
                ray.get(slot.handle.info.remote(), timeout=60)

    monkeypatch.setattr(ray_exec._Dispatch, "_started", started)
    summary = run_render(_manifest(tmp_path, ["ok"] * 4), _cfg(tmp_path / "out", **{"run.executor": "ray"}))
    assert killed and summary.exit_code == 0 and len(summary.results) == 4
    assert [r for r in summary.results if r.status == "error"] == []
    assert tries == []  # no SKU lost a try to it
    assert not (tmp_path / "out" / "logs").exists() or not any((tmp_path / "out" / "logs").iterdir())


def test_item_timeout_holds_on_ray(cluster, tmp_path: Path):
    c, _ = cluster
    ray.init(address=c.address, log_to_driver=False, runtime_env={"worker_process_setup_hook": _test_hooks()})
    manifest = _manifest(tmp_path, ["HANG", "ok", "ok", "ok", "ok"])
    t0 = time.monotonic()
    summary = run_render(manifest, _cfg(tmp_path / "out", **{"run.executor": "ray", "run.item_timeout": 5}))
    seconds = time.monotonic() - t0
    rows = {r.sku: r for r in summary.results}
    hang = rows.pop("HANG")
    assert hang.status == "error" and hang.error == "timed out after 5 s (run.item_timeout)"
    assert hang.log is not None and "ran longer than 5 s" in hang.log.read_text()
    assert all(r.status != "error" for r in rows.values()) and len(rows) == 4  # queued SKUs were not timed out
    assert seconds < 60  # two tries of 5 s and a replaced actor each, not an hour of sleep


@pytest.mark.parametrize("cluster", [0], indirect=True)  # a head that runs no work, as is common
def test_a_cluster_left_without_cpu_fails_the_rest_instead_of_hanging(cluster, tmp_path: Path, monkeypatch):
    c, worker = cluster
    monkeypatch.setattr(ray_exec, "NO_CAPACITY_WAIT", 3.0)
    manifest = _manifest(tmp_path, ["ok"] * 10)
    done: list = []

    def kill_after_two(res) -> None:
        done.append(res)
        if len(done) == 2:
            _kill_node(worker)  # the only node with a CPU

    t0 = time.monotonic()
    summary = run_render(manifest, _cfg(tmp_path / "out", **{"run.executor": "ray", "run.ray_address": c.address}),
                         on_result=kill_after_two)
    seconds = time.monotonic() - t0
    errors = [r for r in summary.results if r.status == "error"]
    assert len(summary.results) == 10 and summary.exit_code == 1 and len(errors) >= 6
    assert all(r.error.startswith("no Ray actor can start: the cluster has no CPU left") for r in errors), errors
    # the run's reason, not each SKU's: only a SKU that lost a try on the node (its story) has a log
    logged = [r for r in errors if r.log is not None]
    assert len(logged) <= 1 and all(r.log.exists() and "tries lost" in r.log.read_text() for r in logged)
    assert sorted(p.name for p in (tmp_path / "out" / "logs").glob("*.log")) == sorted(r.log.name for r in logged)
    assert seconds < 60


def test_closing_the_run_stops_dispatch_and_kills_its_actors(cluster, tmp_path: Path, monkeypatch):
    """What the runner does on Ctrl-C or a full disk: close the executor's iterator. Nothing more is
    dispatched, every actor of the run is dead when close() returns, and no poster appears afterwards."""
    from ecomctl.engine.item import RunContext
    from ecomctl.manifest import load_manifest
    from ecomctl.render.styles import load_styles

    c, _ = cluster
    ray.init(address=c.address, log_to_driver=False)
    runs: list = []
    real_init = ray_exec._Dispatch.__init__

    def init(self, *args):
        real_init(self, *args)
        runs.append(self)

    monkeypatch.setattr(ray_exec._Dispatch, "__init__", init)
    out = tmp_path / "out"
    rows = list(load_manifest(_manifest(tmp_path, ["ok"] * 12)).rows)
    work = ray_exec.run(rows, RunContext(_cfg(out), out, load_styles(None), "compose"), ["auto"])
    assert next(work).status == "pass"
    t0 = time.monotonic()
    work.close()
    closed_s = time.monotonic() - t0
    handles = runs[0].created
    assert len(handles) == 2 and closed_s < ray_exec.KILL_WAIT
    for handle in handles:
        with pytest.raises(ray.exceptions.RayActorError):
            ray.get(handle.ready.remote(), timeout=30)
    written = len(_pixels(out))
    time.sleep(2)
    assert len(_pixels(out)) == written < 12  # nothing written after close(), and the rest was never sent


@pytest.mark.skipif(not TOKEN_AUTH, reason="this Ray has no token authentication (Ray < 2.52)")
def test_a_driver_without_the_cluster_token_gets_one_line(cluster, tmp_path: Path, monkeypatch):
    """Token authentication is really on in this cluster: a driver with a wrong token is refused (Ray
    retries for ~20 s), and the refusal is one line naming the fix, not "cannot reach"."""
    from ecomctl.errors import BackendUnavailable

    c, _ = cluster
    monkeypatch.setenv("RAY_AUTH_TOKEN", "0" * 64)  # outranks RAY_AUTH_TOKEN_PATH
    _reload_ray_auth()
    with pytest.raises(BackendUnavailable, match=r"uses token authentication and refused this machine: set "
                                                 r"RAY_AUTH_MODE=token") as e:
        run_render(_manifest(tmp_path, ["ok"]), _cfg(tmp_path / "out", **{"run.executor": "ray",
                                                                         "run.ray_address": c.address}))
    assert "\n" not in str(e.value)
