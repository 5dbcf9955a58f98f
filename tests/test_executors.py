"""Executors give the same posters as serial rendering: process pool, one process per device, Ray."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ecomctl.config import load_config
from ecomctl.engine import executors
from ecomctl.engine.runner import run_render
from ecomctl.errors import BackendUnavailable


def _cfg(out: Path, **over):
    return load_config(None, {"run.out": str(out), "qa.text.enabled": False, **over})


def _pixels(out: Path) -> dict[str, np.ndarray]:
    from ecomctl.store import OutputStore

    store = OutputStore(out)
    posters = [store.of_sidecar(s).image for s in store.sidecars()]
    return {p.name: np.asarray(Image.open(p)) for p in posters}


def test_choose_executor():
    assert executors.choose("auto", 1, ["auto"], 10) == "serial"
    assert executors.choose("auto", 4, ["cpu"], 10) == "process"
    assert executors.choose("auto", 4, ["cpu"], 1) == "serial"
    assert executors.choose("auto", 1, ["cuda:0", "cuda:1"], 10) == "gpu"
    assert executors.choose("ray", 1, ["auto"], 10) == "ray"


@pytest.mark.slow
def test_process_and_per_device_pools_match_serial(small_manifest: Path, tmp_path: Path):
    serial = run_render(small_manifest, _cfg(tmp_path / "serial"))
    pooled = run_render(small_manifest, _cfg(tmp_path / "pool", **{"run.workers": 2}))
    per_dev = run_render(small_manifest, _cfg(tmp_path / "dev", **{"render.device": "cpu,cpu"}))
    assert serial.exit_code == pooled.exit_code == per_dev.exit_code == 0
    a, b, c = _pixels(tmp_path / "serial"), _pixels(tmp_path / "pool"), _pixels(tmp_path / "dev")
    assert a.keys() == b.keys() == c.keys() and len(a) == 3
    assert all(np.array_equal(a[k], b[k]) and np.array_equal(a[k], c[k]) for k in a)
    assert "executor: gpu" in (tmp_path / "dev" / "run.yaml").read_text()


def test_ray_missing_is_a_clear_error(small_manifest: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(BackendUnavailable, match=r"pip install 'ecomctl\[ray\]'"):
        run_render(small_manifest, _cfg(tmp_path / "ray", **{"run.executor": "ray"}))


def _pool_results(tmp_path: Path, skus: tuple[str, ...], task, **over) -> dict:
    """Run `task` over one tiny SKU per name in a 2-worker pool; results by SKU."""
    from ecomctl.engine.item import RunContext
    from ecomctl.manifest import load_manifest
    from ecomctl.render.styles import load_styles
    from tests.conftest import make_product, write_manifest

    make_product(tmp_path / "p.png")
    path = write_manifest(tmp_path / "m.csv", [
        {"sku": s, "image": "p.png", "title": f"商品 {s}", "size": "256x256", "variants": "1"} for s in skus])
    ctx = RunContext(_cfg(tmp_path / "out", **over), tmp_path / "out", load_styles(None), "compose")
    try:
        return {r.sku: r for r in executors._pool(list(load_manifest(path).rows), ctx, 2, None, task=task)}
    finally:
        executors.stop_fork_server()  # the run's job (runner.run_render), here the test's


def _crash_on_boom(row, ctx):
    """Task for the pool test: the worker process dies outright on SKU BOOM (as if killed for memory)."""
    import os

    from ecomctl.engine.item import render_sku

    if row.sku == "BOOM":
        os._exit(9)
    return render_sku(row, ctx)


@pytest.mark.slow
def test_a_dying_worker_costs_only_its_own_sku(tmp_path: Path):
    results = _pool_results(tmp_path, ("A", "BOOM", "C", "D"), _crash_on_boom)
    assert results["BOOM"].status == "error"
    assert results["BOOM"].error == "worker process died on this SKU (out of memory or a native crash)"
    assert all(results[s].status == "pass" for s in ("A", "C", "D"))
    assert results["BOOM"].log == tmp_path / "out" / "logs" / "BOOM.log"  # no traceback, but the story
    log = results["BOOM"].log.read_text()
    assert "worker process died" in log and "tries: 3" in log and "run.max_attempts: 3" in log


def _crash_twice_on_flaky(row, ctx):
    """Task for the retry test: SKU FLAKY kills its worker on its first two tries, then renders (a counter
    file in OUT, as worker processes share nothing else)."""
    import os

    from ecomctl.engine.item import render_sku

    if row.sku == "FLAKY":
        counter = ctx.out / "flaky-tries"
        counter.parent.mkdir(parents=True, exist_ok=True)
        tries = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(tries + 1))
        if tries < 2:
            os._exit(9)
    return render_sku(row, ctx)


@pytest.mark.slow
@pytest.mark.parametrize(("attempts", "status"), [(3, "pass"), (2, "error")])
def test_a_sku_whose_worker_dies_is_retried_up_to_max_attempts(tmp_path: Path, attempts: int, status: str):
    results = _pool_results(tmp_path, ("A", "FLAKY", "C"), _crash_twice_on_flaky,
                            **{"run.max_attempts": attempts})
    assert results["FLAKY"].status == status and (tmp_path / "out" / "flaky-tries").read_text() == str(attempts)
    assert all(results[s].status == "pass" for s in ("A", "C"))


def _hang_on_slow(row, ctx):
    """Task for the timeout test: SKU SLOW never finishes (a hung model call)."""
    import time as _time

    from ecomctl.engine.item import render_sku

    if row.sku == "SLOW":
        _time.sleep(3600)
    return render_sku(row, ctx)


@pytest.mark.slow
def test_a_hung_sku_times_out_and_the_rest_finish(tmp_path: Path):
    results = _pool_results(tmp_path, ("A", "SLOW", "C"), _hang_on_slow, **{"run.item_timeout": 8})
    assert results["SLOW"].status == "error" and results["SLOW"].error == "timed out after 8 s (run.item_timeout)"
    assert results["A"].status == "pass" and results["C"].status == "pass"
    assert "timed out after 8 s" in results["SLOW"].log.read_text()


def test_ray_on_a_cluster_without_gpus_is_a_clear_error():
    from ecomctl.engine import ray_exec

    cpu_only = type("R", (), {"cluster_resources": staticmethod(lambda: {"CPU": 8.0})})
    with pytest.raises(BackendUnavailable, match="the Ray cluster has no GPU"):
        ray_exec.actor_count(cpu_only, True, None, 4)
    assert ray_exec.actor_count(cpu_only, False, None, 4) == 4


def test_object_storage_out_is_refused(small_manifest: Path, tmp_path: Path):
    from ecomctl.errors import ConfigError

    with pytest.raises(ConfigError, match="object-storage URIs are not supported"):
        run_render(small_manifest, _cfg(Path("s3://bucket/posters")))
    assert not Path("s3:").exists()


def _report_process(row, ctx):
    """Task for the start-up test: what the worker had loaded before it rendered anything, and its parent."""
    import json
    import os

    from ecomctl.engine.item import render_sku

    loaded = {m: m in sys.modules for m in ("rapidocr", "cv2", "ecomctl.qa", "torch")}
    (ctx.out.parent / f"{row.sku}.json").write_text(json.dumps({"loaded": loaded, "ppid": os.getppid()}))
    return render_sku(row, ctx)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork server: Linux here")
def test_cpu_workers_fork_preloaded_and_the_server_stops_with_the_run(tmp_path: Path):
    import json
    import os
    from multiprocessing import forkserver

    results = _pool_results(tmp_path, ("A", "B"), _report_process)
    assert all(r.status == "pass" for r in results.values())
    for sku in ("A", "B"):
        seen = json.loads((tmp_path / f"{sku}.json").read_text())
        # imported by the fork server (engine/preload.py) before the worker existed; torch never
        assert seen["loaded"] == {"rapidocr": True, "cv2": True, "ecomctl.qa": True, "torch": False}
        assert seen["ppid"] != os.getpid()  # forked by the server, not spawned by the main process
    assert forkserver._forkserver._forkserver_pid is None  # stopped and reaped: workers' CPU is accounted


def test_gpu_workers_are_spawned():
    assert executors._context(["cuda:0", "cuda:1"]).get_start_method() == "spawn"


def test_saliency_threads_are_each_workers_share_unless_set(tmp_path: Path, monkeypatch):
    from ecomctl.engine.item import _with_thread_share

    monkeypatch.setattr("os.cpu_count", lambda: 8)
    one, four = _cfg(tmp_path), _cfg(tmp_path, **{"run.workers": 4})
    assert _with_thread_share({"method": "auto"}, one) == {"method": "auto"}
    assert _with_thread_share({"method": "auto"}, four) == {"method": "auto", "saliency": {"threads": 2}}
    assert _with_thread_share({"saliency": {"threshold": 0.5}}, four) == {"saliency": {"threshold": 0.5, "threads": 2}}
    assert _with_thread_share({"saliency": {"threads": 3}}, four) == {"saliency": {"threads": 3}}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork server: Linux here")
def test_a_run_that_stops_before_its_pool_leaves_no_fork_server(tmp_path: Path):
    from multiprocessing import forkserver

    from ecomctl.errors import EcomctlError

    bad = tmp_path / "m.csv"
    bad.write_text("sku,image,title\nA,missing.png,x\n", encoding="utf-8")
    with pytest.raises(EcomctlError):
        run_render(bad, _cfg(tmp_path / "out", **{"run.workers": 2}))
    assert forkserver._forkserver._forkserver_pid is None  # started early, stopped with the run


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork server: Linux here")
def test_a_campaign_run_starts_one_fork_server_for_all_its_pools(tmp_path: Path, monkeypatch):
    """A campaign renders its first SKUs in one pool and the rest in another (engine/campaigns.py); both
    fork from the one server the run started, which pays its imports once (issue 17)."""
    from multiprocessing import forkserver

    from tests.test_campaigns import _demo_campaigns

    pools, servers = [], []
    make_pool, ensure = executors._make_pool, forkserver._forkserver.ensure_running

    def counting_pool(*args, **kwargs):
        pools.append(args)
        return make_pool(*args, **kwargs)

    def recording_ensure():
        ensure()
        servers.append(forkserver._forkserver._forkserver_pid)

    monkeypatch.setattr(executors, "_make_pool", counting_pool)
    monkeypatch.setattr(forkserver._forkserver, "ensure_running", recording_ensure)
    summary = run_render(_demo_campaigns(tmp_path), _cfg(tmp_path / "out", **{"run.workers": 2}))
    assert summary.exit_code == 0 and len(summary.results) == 4
    assert "executor: process" in (tmp_path / "out" / "run.yaml").read_text()
    assert len(pools) >= 2  # the campaigns' first SKUs, then the rest
    assert len(set(servers)) == 1, servers  # one fork server (pid) for every pool and worker of the run
    assert forkserver._forkserver._forkserver_pid is None  # and the run stopped it at its end
