"""Benchmark QA text reading: line-crop OCR (ours) vs full-image OCR (baseline), in one run, same posters.

Posters: the demo manifest rendered by the compose backend into a temporary folder (or an existing
output folder with --posters). Ours: each typeset line's crop (layout boxes known, padded, small
crops upscaled) recognised in one batched call, no detection — what `check_poster` does for
text.ned / text.sen_acc. Baseline: the whole poster through detection + direction classifier +
recognition, OCR lines then assigned to the expected lines by best NED (what `ecomctl eval` does
without boxes). Both score Sen.Acc/NED against the sidecar's copy, so speed and accuracy are compared
together. The engine is warmed up before timing; each path takes the best of --repeat runs per
poster. Also reported: the stray-text scan (detection only, longest side qa.text.stray_scan_px) and
the full `check_poster` time (line crops + stray scan + pixel checks).
CPU only (onnxruntime CPU); absolute times are this machine's, the ratio is the result.

    .venv/bin/python benchmarks/bench_qa.py [--posters OUT] [--repeat 2] [--threads 0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ecomctl.config import load_config
from ecomctl.qa import check_poster
from ecomctl.qa.evaluate import match_lines
from ecomctl.qa.metrics import exact, ned
from ecomctl.qa.text import read_lines
from ecomctl.qa.thresholds import thresholds
from ecomctl.store import OutputStore
from ecomctl.store.posters import load_poster
from ecomctl.text.ocr import get_ocr


def render_demo(out: Path) -> None:
    from ecomctl.engine.runner import run_render

    cfg = load_config(overrides={"run.out": str(out), "qa.text.enabled": False})
    run_render(ROOT / "manifests" / "demo.csv", cfg)


def best_of(fn, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return result, best


def measure(posters, cfg, repeat: int) -> dict:
    ocr, t = get_ocr(cfg.section("ocr")), thresholds(cfg).text
    rgbs = [np.asarray(p.image.convert("RGB")) for p in posters]
    ocr.read(rgbs[0]), read_lines(rgbs[0], posters[0].layout.lines, t, ocr)  # warm-up: sessions, arenas
    rows = {"crop": [], "full": [], "stray": [], "qa": []}
    scores = {"crop": [], "full": []}
    for p, rgb in zip(posters, rgbs):
        expected = [ln.text for ln in p.layout.lines]
        per_line, s_crop = best_of(lambda p=p, rgb=rgb: read_lines(rgb, p.layout.lines, t, ocr), repeat)
        found, s_full = best_of(lambda e=expected, rgb=rgb: match_lines(e, ocr.read(rgb)), repeat)
        _, s_stray = best_of(lambda rgb=rgb: ocr.detect(rgb, t.stray_scan_px or None), repeat)
        _, s_qa = best_of(lambda p=p: check_poster(p, cfg), 1)
        for key, sec in (("crop", s_crop), ("full", s_full), ("stray", s_stray), ("qa", s_qa)):
            rows[key].append(sec)
        scores["crop"] += [(d["exact"], d["ned"]) for d in per_line]
        scores["full"] += [(exact(r, e), ned(r, e)) for r, e in zip(found, expected)]
    return {"seconds": rows, "scores": scores}


def summarise(m: dict, n_posters: int, n_lines: int) -> dict:
    sec = {k: float(np.mean(v)) for k, v in m["seconds"].items()}
    acc = {k: {"sen_acc": round(float(np.mean([e for e, _ in v])), 4), "ned": round(float(np.mean([n for _, n in v])), 4)}
           for k, v in m["scores"].items()}
    return {
        "posters": n_posters, "lines": n_lines,
        "line_crop_ocr": {"seconds_per_poster": round(sec["crop"], 4), **acc["crop"]},
        "full_image_ocr": {"seconds_per_poster": round(sec["full"], 4), **acc["full"]},
        "speedup_full_over_crop": round(sec["full"] / sec["crop"], 2),
        "stray_text_scan_seconds_per_poster": round(sec["stray"], 4),
        "check_poster_seconds_per_poster": round(sec["qa"], 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posters", type=Path, help="existing output folder (default: render manifests/demo.csv)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0 = runtime default)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "qa_ocr_cpu.json")
    args = ap.parse_args()
    cfg = load_config(overrides={"ocr.threads": args.threads})
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.posters or Path(tmp) / "demo"
        if args.posters is None:
            render_demo(folder)
        posters = [load_poster(p) for p in OutputStore(folder).sidecars()]
        m = measure(posters, cfg, args.repeat)
    result = {
        "benchmark": "qa_ocr", "what": "QA text reading per poster: line-crop OCR vs full-image OCR (same run)",
        "source": str(args.posters) if args.posters else "manifests/demo.csv rendered with the compose backend",
        "sizes": sorted({f"{p.image.width}x{p.image.height}" for p in posters}),
        **summarise(m, len(posters), sum(len(p.layout.lines) for p in posters)),
        "device": {"kind": "cpu", "cpu_count": os.cpu_count(), "threads": args.threads or "default",
                   "platform": platform.platform(), "python": platform.python_version(),
                   "onnxruntime": version("onnxruntime"), "rapidocr": version("rapidocr")},
        "repeat": args.repeat,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
