"""The Ray executor on this machine: render the demo manifest serially and on a local Ray instance (CPU
actors) in the same run; the JSON gives both wall times, the ratio and whether every poster's pixels are equal.

    .venv/bin/python benchmarks/bench_ray.py [--actors 2] [--out results/ray_demo_cpu.json]
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--actors", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ray_demo_cpu.json")
    args = ap.parse_args()
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
