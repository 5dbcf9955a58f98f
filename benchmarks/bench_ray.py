"""The Ray executor on this machine: render the demo manifest serially and on a local Ray instance (CPU
actors) in the same run; the JSON gives both wall times, the ratio and whether every poster's pixels are equal.

    .venv/bin/python benchmarks/bench_ray.py [--actors 2] [--out results/ray_demo_cpu.json]

`--node-loss` instead measures issue 17's scenario on a two-node Ray cluster on this machine (a head and a
second raylet, 1 CPU each, 127.0.0.1 only, token authentication on, as tests/test_ray_cluster.py builds
it): N SKUs, the second node lost (SIGKILL to its raylet and its workers) after K posters; the JSON gives
the exit code, error rows, posters written and intact, and the wall times.

    .venv/bin/python benchmarks/bench_ray.py --node-loss [--skus 200] [--kill-after 90]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ecomctl.config import load_config
from ecomctl.engine.runner import run_render


def _pixels(out: Path) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(Image.open(p)) for p in sorted(out.glob("*/*-v[0-9]*.png"))
            if p.name.count(".") == 1}


def node_loss(args: argparse.Namespace) -> dict:
    import signal

    import psutil
    import ray
    from ray._private import ray_constants
    from ray._raylet import AuthenticationTokenLoader, Config
    from ray.cluster_utils import Cluster

    from tests.conftest import make_product, write_manifest

    with tempfile.TemporaryDirectory() as tmp:
        token = Path(tmp) / "auth_token"
        token.write_text(os.urandom(32).hex())
        os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token), RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
        ray_constants.ENABLE_RAY_CLUSTER = False  # loopback only (read at import; the env var is for the nodes)
        Config.initialize("")  # re-read RAY_AUTH_MODE, as a fresh process would
        AuthenticationTokenLoader.instance().reset_cache()
        ray._private.utils.write_ray_address = lambda *a, **k: None  # leave /tmp/ray/ray_current_cluster alone
        cluster = Cluster(initialize_head=True, head_node_args={
            "node_ip_address": "127.0.0.1", "num_cpus": 1, "include_dashboard": False,
            "_system_config": {"health_check_period_ms": 1000, "health_check_failure_threshold": 5}})
        try:
            worker = cluster.add_node(node_ip_address="127.0.0.1", num_cpus=1)
            make_product(Path(tmp) / "p.png")
            manifest = write_manifest(Path(tmp) / "m.csv", [
                {"sku": f"S{i:04d}", "image": "p.png", "title": f"Item {i}", "price": f"${i}"}
                for i in range(args.skus)])
            cfg = load_config(None, {"run.out": f"{tmp}/out", "run.executor": "ray", "qa.text.enabled": False,
                                     "run.ray_address": cluster.address, "render.size": args.size,
                                     "render.variants": args.variants})
            seen, killed_at, lost = [], [], []
            from ecomctl.engine import ray_exec

            if hasattr(ray_exec, "_Dispatch"):  # absent before issue 17 (to measure the old executor too)
                real_retry = ray_exec._Dispatch._retry

                def retry(self, row, reason, cause):  # count the tries the loss cost (a spy; Ray is real)
                    lost.append((row.sku, cause))
                    return real_retry(self, row, reason, cause)

                ray_exec._Dispatch._retry = retry

            def on_result(res) -> None:
                seen.append(res)
                if len(seen) == args.kill_after:
                    raylet = psutil.Process(worker.all_processes["raylet"][0].process.pid)
                    for proc in [raylet, *raylet.children(recursive=True)]:
                        proc.send_signal(signal.SIGKILL)
                    killed_at.append(time.perf_counter())

            t0 = time.perf_counter()
            summary = run_render(manifest, cfg, on_result=on_result)
            t1 = time.perf_counter()
            posters = sorted((Path(tmp) / "out").glob("*/*-v[0-9].png"))
            intact = sum(1 for p in posters if Image.open(p).size == tuple(map(int, args.size.split("x"))))
            errors = [r for r in summary.results if r.status == "error"]
        finally:
            cluster.shutdown()
    return {
        "what": "issue 17 node loss: two-node loopback Ray cluster (1 CPU each, token auth), compose backend, "
                "the second node SIGKILLed (raylet and its workers) mid-run",
        "ray": ray.__version__, "cpus": os.cpu_count(), "skus": args.skus, "variants": args.variants,
        "size": args.size, "kill_after_posters": args.kill_after, "exit_code": summary.exit_code,
        "tries_lost": [f"{sku}: {cause}" for sku, cause in lost], "error_rows": len(errors), "errors": sorted({r.error for r in errors}),
        "posters_expected": args.skus * args.variants, "posters_written": len(posters), "posters_intact": intact,
        "seconds": round(t1 - t0, 1), "seconds_before_kill": round(killed_at[0] - t0, 1) if killed_at else None,
        "seconds_after_kill": round(t1 - killed_at[0], 1) if killed_at else None,
        "note": "qa.text off; 2-core machine shared with other jobs; includes Ray connect",
        "python": platform.python_version(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--actors", type=int, default=2)
    ap.add_argument("--node-loss", action="store_true", help="issue 17's lost-node run instead of the demo")
    ap.add_argument("--skus", type=int, default=200)
    ap.add_argument("--variants", type=int, default=2)
    ap.add_argument("--size", default="512x512")
    ap.add_argument("--kill-after", type=int, default=90, help="posters before the second node is lost")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.node_loss:
        result = node_loss(args)
        out = args.out or ROOT / "benchmarks" / "results" / "ray_node_loss_cpu.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(result, indent=1))
        return
    args.out = args.out or ROOT / "benchmarks" / "results" / "ray_demo_cpu.json"
    import ray

    timings, codes = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("serial", "ray"):
            cfg = load_config(None, {"run.out": f"{tmp}/{kind}", "run.executor": kind, "run.ray_actors": args.actors})
            t0 = time.perf_counter()
            summary = run_render(ROOT / "manifests" / "demo.csv", cfg)  # ray: starts and stops a local Ray
            timings[kind], codes[kind] = time.perf_counter() - t0, summary.exit_code
        a, b = _pixels(Path(tmp) / "serial"), _pixels(Path(tmp) / "ray")
        equal = a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    result = {
        "what": "demo manifest, compose backend, serial vs Ray executor (local instance, CPU actors), same run",
        "ray": ray.__version__, "actors": args.actors, "cpus": os.cpu_count(), "posters": len(a),
        "pixels_equal": equal, "exit_codes": codes, "seconds": {k: round(v, 1) for k, v in timings.items()},
        "ray_vs_serial_speedup": round(timings["serial"] / timings["ray"], 3),
        "note": "includes Ray start-up (a few seconds); the machine was shared with other jobs",
        "python": platform.python_version(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
