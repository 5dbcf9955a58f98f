"""Benchmark `dataset build` on this machine: posters/s for both sources, serial vs a process pool.

Render source: the demo manifest rendered by `ecomctl render --keep-layers` (compose backend; render time
not counted). Poster source: synthetic found posters (tests/synth_posters.py). Each source is built
serially (baseline) and with --workers N in the same run; the JSON gives posters/s, the speed-up ratio,
a resumed rebuild, per-stage seconds for found posters, and the glyph re-OCR NED on the demo corpus.

    .venv/bin/python benchmarks/bench_dataset.py [--posters 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ecomctl.dataset import build_corpus, settings_from
from tests.synth_posters import make_posters


def render_demo(work: Path) -> Path:
    out = work / "demo-out"
    cfg = work / "fast.yaml"
    cfg.write_text("qa:\n  text:\n    enabled: false\n", encoding="utf-8")
    cmd = [str(ROOT / ".venv/bin/ecomctl"), "render", str(ROOT / "manifests/demo.csv"), "--out", str(out),
           "--config", str(cfg), "--keep-layers"]
    subprocess.run(cmd, check=False, capture_output=True)
    if not any(out.glob("*/*-v*.json")):
        raise SystemExit("demo render produced no posters")
    return out


def timed_build(source: Path, out: Path, **kw) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    report = build_corpus(source, out, settings_from(**kw))
    seconds = time.perf_counter() - t
    t = time.perf_counter()
    build_corpus(source, out, settings_from(**kw))  # resume: everything unchanged
    resumed = time.perf_counter() - t
    return {"posters": report.items, "kept": report.kept, "errors": len(report.errors),
            "dropped": report.dropped, "seconds": round(seconds, 2),
            "posters_per_s": round(report.items / seconds, 3), "resume_seconds": round(resumed, 2)}


def compare(source: Path, work: Path, name: str, workers: int, size: int) -> dict:
    serial = timed_build(source, work / f"{name}-1", size=size, workers=1)
    pool = timed_build(source, work / f"{name}-{workers}", size=size, workers=workers)
    return {"serial": serial, f"workers_{workers}": pool,
            "speedup_vs_serial": round(pool["posters_per_s"] / serial["posters_per_s"], 2)}


def poster_stages(folder: Path, n: int = 4) -> dict:
    """Seconds per stage of the found-poster path, mean over n posters (serial, warm engines)."""
    from PIL import Image

    from ecomctl.dataset.inpaint import boxes_mask, grow_mask, inpaint
    from ecomctl.dataset.ocr import read_lines
    from ecomctl.subject import extract_subject

    times: dict[str, list[float]] = {"ocr": [], "inpaint_text": [], "subject": [], "inpaint_subject": []}
    paths = sorted(folder.glob("*.png"))[: n + 1]
    for i, p in enumerate(paths):
        img = Image.open(p).convert("RGB")
        t0 = time.perf_counter()
        lines = read_lines(img, {"threads": 1})
        t1 = time.perf_counter()
        clean = inpaint(img, boxes_mask(img.size, [ln.box for ln in lines]))
        t2 = time.perf_counter()
        sub = extract_subject(clean, "bottle")
        t3 = time.perf_counter()
        inpaint(clean, grow_mask(sub.mask, 7))
        t4 = time.perf_counter()
        if i == 0:
            continue  # warm-up: engine loading
        for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            times[k].append(v)
    return {k: round(float(np.mean(v)), 3) for k, v in times.items()}


def glyph_ned(corpus: Path) -> float:
    import pandas as pd
    from PIL import Image

    from ecomctl.qa.metrics import ned
    from ecomctl.qa.text import crop_line
    from ecomctl.text.ocr import get_ocr
    from ecomctl.types import Box

    ocr, scores = get_ocr({"threads": 1}), []
    for row in pd.read_parquet(corpus / "samples.parquet").itertuples():
        g = np.asarray(Image.open(corpus / row.glyph).convert("RGB"))
        read = ocr.recognize([crop_line(g, Box.from_list(ln["box"]), 0.25, 32) for ln in row.lines])
        scores.append(ned("".join(t.text for t in read), "".join(ln["text"] for ln in row.lines)))
    return round(float(np.mean(scores)), 4)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posters", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--size", type=int, default=800)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/dataset_cpu.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        demo = render_demo(work)
        found = work / "found"
        make_posters(found, args.posters, seed=11)
        result = {
            "bench": "dataset build", "device": "cpu", "cpus": os.cpu_count(), "python": platform.python_version(),
            "size": args.size, "note": "shared 2-core machine; other jobs were running, so absolute times are noisy",
            "render_source": compare(demo, work, "render", args.workers, args.size),
            "poster_source": compare(found, work, "posters", args.workers, args.size),
            "poster_stage_seconds": poster_stages(found),
        }
        result["render_source"]["glyph_reocr_ned"] = glyph_ned(work / "render-1")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
