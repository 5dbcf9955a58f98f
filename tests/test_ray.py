"""The Ray executor on a real local Ray instance: same pixels as serial, GPU actors pinned by num_gpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ecomctl.config import load_config
from ecomctl.engine import ray_exec
from ecomctl.engine.item import RunContext
from ecomctl.engine.runner import run_render
from ecomctl.manifest import load_manifest
from ecomctl.render.styles import load_styles

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the module: 2 CPUs and 2 *logical* GPUs (Ray schedules by resource count
    and sets CUDA_VISIBLE_DEVICES per actor; no CUDA is touched by the compose backend)."""
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    session = Path(ray._private.worker._global_node.get_session_dir_path())
    yield ray
    ray.shutdown()
    from tests.test_ray_cluster import _remove_session

    _remove_session(session)  # /tmp/ray/session_… of this instance goes with it


def _cfg(out: Path, **over):
    return load_config(None, {"run.out": str(out), "qa.text.enabled": False, **over})


def _pixels(out: Path) -> dict[str, np.ndarray]:
    """The posters only (`<sku>-v<k>.png`, not the layers beside them)."""
    return {p.name: np.asarray(Image.open(p)) for p in sorted(out.glob("*/*-v*.png")) if p.name.count(".") == 1}


def test_ray_renders_the_same_pixels_as_serial(local_ray, small_manifest: Path, tmp_path: Path):
    serial = run_render(small_manifest, _cfg(tmp_path / "serial"))
    on_ray = run_render(small_manifest, _cfg(tmp_path / "ray", **{"run.executor": "ray"}))
    assert serial.exit_code == on_ray.exit_code == 0 and len(on_ray.results) == 3
    a, b = _pixels(tmp_path / "serial"), _pixels(tmp_path / "ray")
    assert a.keys() == b.keys() and len(a) == 3
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert "executor: ray" in (tmp_path / "ray" / "run.yaml").read_text()
    assert ray.is_initialized()  # a Ray the caller started is left running


def test_ray_resume_skips_finished_posters(local_ray, small_manifest: Path, tmp_path: Path):
    cfg = _cfg(tmp_path / "out", **{"run.executor": "ray"})
    run_render(small_manifest, cfg)
    again = run_render(small_manifest, cfg)
    assert [r.resumed for r in again.results] == [True, True, True] and again.exit_code == 0


def test_gpu_actors_are_pinned_and_load_their_pipeline_once(local_ray, small_manifest: Path, tmp_path: Path):
    rows = list(load_manifest(small_manifest).rows)
    ctx = RunContext(_cfg(tmp_path / "out", **{"render.device": "cuda:0,cuda:1"}), tmp_path / "out",
                     load_styles(None), "compose")
    assert ray_exec.actor_count(ray, True, None, 10) == 2  # one actor per GPU of the cluster
    actors = ray_exec.make_actors(ray, ctx, True, 2)
    for actor in actors:  # each actor renders both SKUs; the second must reuse the loaded backend
        assert [r.status for rs in ray.get([actor.render.remote(r) for r in rows]) for r in rs] == ["pass"] * 3
    infos = ray.get([a.info.remote() for a in actors])
    assert sorted(i["cuda_visible_devices"] for i in infos) == ["0", "1"]  # each actor owns one GPU
    assert [i["backend_loads"] for i in infos] == [1, 1] and [i["items"] for i in infos] == [2, 2]
    assert len({i["pid"] for i in infos}) == 2


def test_ray_gpu_run_matches_serial(local_ray, small_manifest: Path, tmp_path: Path):
    serial = run_render(small_manifest, _cfg(tmp_path / "serial"))
    gpu = run_render(small_manifest, _cfg(tmp_path / "gpu", **{"run.executor": "ray",
                                                               "render.device": "cuda:0,cuda:1"}))
    assert serial.exit_code == gpu.exit_code == 0
    a, b = _pixels(tmp_path / "serial"), _pixels(tmp_path / "gpu")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_cpu_actor_count_follows_the_cluster_or_the_setting(local_ray):
    assert ray_exec.actor_count(ray, False, None, 10) == 2
    assert ray_exec.actor_count(ray, False, None, 1) == 1  # never more actors than SKUs
    assert ray_exec.actor_count(ray, False, 5, 3) == 3


def test_ray_takes_rows_as_they_arrive(local_ray, small_manifest: Path, tmp_path: Path):
    """Photos by URL reach the executor over time (ecomctl/feed.py): the actors render what has arrived, wait
    while the feed is open and empty, and take the next row when it comes."""
    from ecomctl.feed import Feed

    rows = list(load_manifest(small_manifest).rows)
    out = tmp_path / "out"
    ctx = RunContext(_cfg(out, **{"run.executor": "ray", "run.ray_actors": 1}), out, load_styles(None), "compose")
    feed = Feed(rows[:1], planned=rows, open=True)
    seen = []
    for res in ray_exec.run(feed, ctx, ["auto"]):
        seen.append(res.sku)
        if len(seen) == rows[0].variants:  # the first SKU is done while the second is still "downloading"
            feed.put(rows[1])
            feed.close()
    assert seen == [rows[0].sku] * rows[0].variants + [rows[1].sku] * rows[1].variants
