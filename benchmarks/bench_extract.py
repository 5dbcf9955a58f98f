"""Benchmark subject extraction: IoU per method and seconds per image, JSON under benchmarks/results/.

Suite `methods` (default → extract_methods_cpu.json): `ecomctl extract` with default settings (the auto
chain, run through `extract_catalog` on a manifest of JPEG files) against ground-truth masks on three
sets made by tests/extract_scenes.py — product photos in scenes, full-bleed posters with copy, studio
packshots over plain / sweep / paper backdrops — and the committed studio JPEGs (manifests/assets), plus
in-process on the same images: the auto chain with the studio step off (`auto`), as shipped with
`subject.studio_fast_path` on (`auto+studio`: seeded saliency zoom pass; `auto+studio-classical`: its classical
mask), counting the photos the studio step answered, `saliency` (zoom refinement), `saliency`
with `refine: grabcut`, `saliency` with `refine: none`, and `classical`, each with CPU-seconds per photo.
The mask confidence of every result is recorded, so the confidence can be checked against the IoU.

Suite `studio-classical` (→ extract_cpu.json), the original benchmark:

Each packshot is alpha-blended over RGB(250,250,250) (the issue's measurement) and, for robustness,
over the synthetic catalog backdrops (grey sweep, tinted paper, soft shadow, noise). Ours: the
`classical` extractor (backdrop model + shadow-tolerant trimap + GrabCut at 720 px + cleanup).
Baseline, same run: OpenCV GrabCut at full resolution initialised with a rectangle 2 % inside the
frame, 5 iterations, no cleanup (what a quick script would do). CPU only; times are this machine's.

    .venv/bin/python benchmarks/bench_extract.py [--suite methods|studio-classical] [--n 12] [--seed 0]
    .venv/bin/python benchmarks/bench_extract.py --suite studio-classical [--src ../shared/data/products] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ecomctl.qa.metrics import iou
from tests.backdrops import flatten_over
from ecomctl.subject.classical import ClassicalExtractor

BACKDROPS = {"near-white": ("plain", 0.0, 0.0), "plain+noise": ("plain", 0.0, 2.0), "sweep": ("sweep", 0.0, 1.5),
             "paper": ("paper", 0.0, 0.0), "sweep+shadow": ("sweep", 0.3, 1.0),
             "paper+shadow": ("paper", 0.35, 0.0), "near-white+shadow": ("plain", 0.35, 1.0)}


def baseline_grabcut(photo: Image.Image) -> np.ndarray:
    bgr = np.asarray(photo)[..., ::-1].copy()
    h, w = bgr.shape[:2]
    m = round(0.02 * min(h, w))
    mask = np.zeros((h, w), np.uint8)
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.grabCut(bgr, mask, (m, m, w - 2 * m, h - 2 * m), bgd, fgd, 5, cv2.GC_INIT_WITH_RECT)
    return np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)


def timed(fn, photo: Image.Image, repeat: int) -> tuple[np.ndarray, float]:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        mask = fn(photo)
        best = min(best, time.perf_counter() - t)
    return mask, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", choices=("methods", "studio-classical"), default="methods")
    ap.add_argument("--src", type=Path, default=ROOT.parent / "shared" / "data" / "products")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--n", type=int, default=12, help="methods: images per set")
    ap.add_argument("--seed", type=int, default=0, help="methods: fixture seed")
    ap.add_argument("--note", default="", help="free text about the machine's load, stored in the JSON")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.suite == "methods":
        from bench_extract_methods import run_methods

        run_methods(args, args.out or ROOT / "benchmarks" / "results" / "extract_methods_cpu.json")
        return
    args.out = args.out or ROOT / "benchmarks" / "results" / "extract_cpu.json"
    cv2.setNumThreads(1)
    ours = ClassicalExtractor({})
    rows = []
    for png in sorted(args.src.glob("*.png")):
        packshot, truth = Image.open(png), np.asarray(Image.open(args.src / "masks" / png.name))
        for name, (backdrop, shadow, noise) in BACKDROPS.items():
            photo = flatten_over(packshot, backdrop, shadow, noise, seed=1)
            m_ours, t_ours = timed(lambda p: ours.extract(p, "").mask, photo, args.repeat)
            m_base, t_base = timed(baseline_grabcut, photo, 1 if name != "near-white" else args.repeat)
            rows.append({"sku": png.stem, "backdrop": name, "size": list(packshot.size),
                         "iou": round(iou(m_ours, truth), 4), "seconds": round(t_ours, 3),
                         "baseline_iou": round(iou(m_base, truth), 4), "baseline_seconds": round(t_base, 3)})
            print(json.dumps(rows[-1]), flush=True)
    summary = {}
    for name in BACKDROPS:
        sel = [r for r in rows if r["backdrop"] == name]
        summary[name] = {k: round(float(np.mean([r[k] for r in sel])), 4)
                         for k in ("iou", "seconds", "baseline_iou", "baseline_seconds")}
        summary[name]["min_iou"] = min(r["iou"] for r in sel)
        summary[name]["speedup_vs_baseline"] = round(summary[name]["baseline_seconds"] / summary[name]["seconds"], 2)
    result = {"benchmark": "extract_cpu", "extractor": "classical", "settings": vars(ours.settings),
              "baseline": "cv2.grabCut full-res, rect 2% inside frame, 5 iterations, no cleanup",
              "machine": {"cpu_threads_used": 1, "platform": platform.platform(), "python": platform.python_version(),
                          "opencv": cv2.__version__},
              "note": args.note,
              "mean_iou_near_white": summary["near-white"]["iou"],
              "seconds_per_image_near_white": summary["near-white"]["seconds"],
              "by_backdrop": summary, "items": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
