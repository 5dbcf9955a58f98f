"""Benchmark the diffusion backends: our tuned pipeline (backend defaults: distilled steps, LoRA scheduler,
knobs) vs the stock diffusers pipeline with its default settings, in one run, random weights built from
each architecture's config (no download). Seconds/image, images/s, peak memory and per-stage seconds.

--scale tiny runs the same code on tiny configs (any CPU; says nothing about full-size speed);
--scale full builds the published models' shapes and needs a GPU with room for them.
Writes benchmarks/results/diffusion_<scale>_<device>.json (one record per backend, as `ecomctl bench`).

    .venv/bin/python benchmarks/bench_diffusion.py --scale tiny --device cpu --threads 1
    .venv/bin/python benchmarks/bench_diffusion.py --scale full --device cuda --backends sdxl-inpaint sdxs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecomctl.bench.run import BenchSpec, _backend_cls, run_bench  # noqa: E402
from ecomctl.types import Size  # noqa: E402

FULL_SIZE = {"sdxs": 512}  # SDXS is a 512 model; the others are timed at 1024²
ALL = ("sdxl-inpaint", "sdxs", "qwen-image", "flux-fill", "composer")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", choices=("tiny", "full"), default="tiny")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--backends", nargs="+", default=list(ALL))
    ap.add_argument("--size", type=int, default=None, help="square side [tiny: 128, full: 1024 (sdxs 512)]")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    records = []
    for name in a.backends:
        side = a.size or (128 if a.scale == "tiny" else FULL_SIZE.get(name, 1024))
        steps = _backend_cls(name).Settings.model_fields["steps"].default
        spec = BenchSpec(name, Size(side, side), steps, a.batch, a.device, "auto", a.scale, True, "stock",
                         a.repeats, threads=a.threads)
        rec = run_bench(spec)
        records.append(rec)
        print(f"{name:13} {rec['size']:>9}  ours {rec['ours']['steps']:>2} steps "
              f"{rec['ours']['seconds_per_image']:.4f} s/img   stock {rec['baseline']['steps']:>2} steps "
              f"{rec['baseline']['seconds_per_image']:.4f} s/img   speedup x{rec['speedup_vs_stock']}", flush=True)
    out = a.out or Path(__file__).with_name("results") / f"diffusion_{a.scale}_{a.device.split(':')[0]}.json"
    out.write_text(json.dumps({"schema": "ecomctl.bench-suite/1", "records": records}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
