"""Suite `methods` of benchmarks/bench_extract.py: `ecomctl extract` (default settings) and each extractor alone
on product-in-scene photos, full-bleed posters and studio packshots with ground-truth masks; in-process, the
auto chain with the studio step off (`auto`, the chain before it), with `subject.studio_fast_path` on (`auto+studio`,
the default: a seeded saliency zoom pass) and with the studio step's classical mask (`auto+studio-classical`), with
CPU-seconds per photo and how many photos the studio step answered (`fast_path`)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ecomctl.errors import EcomctlError  # noqa: E402
from ecomctl.qa.metrics import iou  # noqa: E402
from ecomctl.subject import extract_subject  # noqa: E402
from tests.extract_scenes import packshots, poster, scene  # noqa: E402

METHODS = {"auto": ("auto", {"studio_fast_path": False}), "auto+studio": ("auto", {"studio_fast_path": True}),
           "auto+studio-classical": ("auto", {"studio_fast_path": True, "studio": {"mask": "classical"}}),
           "saliency": ("saliency", {}), "saliency-grabcut": ("saliency", {"saliency": {"refine": "grabcut"}}),
           "saliency-none": ("saliency", {"saliency": {"refine": "none"}}), "classical": ("classical", {})}
STUDIO = (("plain", 0.0, 1.0), ("sweep", 0.3, 1.0), ("paper", 0.35, 0.0))


def fixtures(n: int, seed: int) -> list[tuple[str, str, Image.Image, np.ndarray]]:
    """(set, name, photo, truth) for the three generated sets and the committed studio JPEGs."""
    from tests.backdrops import flatten_over

    out = [("scene", f.name, f.image, f.truth) for f in (scene(i, seed) for i in range(n))]
    out += [("poster", f.name, f.image, f.truth) for f in (poster(i, seed) for i in range(n))]
    shots = packshots()
    for i in range(n):
        sku, pack, truth = shots[i % len(shots)]
        backdrop, shadow, noise = STUDIO[(i // len(shots)) % len(STUDIO)]
        out.append(("studio", f"studio-{i:02d}-{sku}-{backdrop}", flatten_over(pack, backdrop, shadow, noise, seed + i),
                    truth))
    return out + studio_jpegs()


def studio_jpegs() -> list[tuple[str, str, Image.Image, np.ndarray]]:
    """The committed studio photos the packshot benchmark manifest renders (manifests/assets/<id>-<backdrop>.jpg),
    with the true mask of the packshot they were shot from."""
    assets = ROOT / "manifests" / "assets"
    return [("studio-jpeg", jpg.stem, Image.open(jpg).convert("RGB"),
             np.asarray(Image.open(assets / "masks" / f"{jpg.stem.split('-')[0]}.png")))
            for jpg in sorted(assets.glob("*-*.jpg"))]


def via_cli(items: list[tuple[str, str, Image.Image, np.ndarray]]) -> list[dict]:
    """`ecomctl extract` with default settings, run as a user would, on a manifest of JPEG files."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lines = ["sku,image,title"]
        for k, (_, name, photo, _) in enumerate(items):
            photo.save(folder / f"{k:03d}.jpg", quality=95)
            lines.append(f"S{k:03d},{k:03d}.jpg,{name}")
        (folder / "m.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ECOMCTL__")}
        subprocess.run([sys.executable, "-m", "ecomctl", "extract", str(folder / "m.csv"), "--out", str(folder / "out")],
                       check=False, env=env, cwd=folder, stdout=subprocess.DEVNULL)
        summary = json.loads((folder / "out" / "extract.json").read_text(encoding="utf-8"))
        out = []
        for (kind, name, _, truth), res in zip(items, summary["items"]):
            mask = np.asarray(Image.open(folder / "out" / res["files"]["mask"])) if res["status"] == "ok" else None
            out.append({"set": kind, "name": name, "method": "ecomctl extract", "answered_by": res["method"],
                        "iou": round(iou(mask, truth), 4) if mask is not None else 0.0,
                        "seconds": res["seconds"], "confidence": res.get("confidence"), "error": res["error"]})
    return out


def one_method(label: str, items: list[tuple[str, str, Image.Image, np.ndarray]]) -> list[dict]:
    method, settings = METHODS[label]
    rows = []
    for kind, name, photo, truth in items:
        t, cpu = time.perf_counter(), time.process_time()
        try:
            s = extract_subject(photo, "product", method, settings)
            got = {"answered_by": s.method, "fast_path": "studio: plain backdrop" in (s.note or ""),
                   "iou": round(iou(s.mask, truth), 4), "confidence": s.confidence, "error": None}
        except EcomctlError as e:
            got = {"answered_by": None, "fast_path": False, "iou": 0.0, "confidence": None, "error": str(e)}
        rows.append({"set": kind, "name": name, "method": label, "seconds": round(time.perf_counter() - t, 3),
                     "cpu_seconds": round(time.process_time() - cpu, 3), **got})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def summarise(rows: list[dict]) -> dict:
    out: dict = {}
    for r in rows:
        out.setdefault(r["method"], {}).setdefault(r["set"], []).append(r)
    return {m: {k: _set_summary(v) for k, v in sets.items()} for m, sets in out.items()}


def _set_summary(v: list[dict]) -> dict:
    out = {"n": len(v), "mean_iou": round(float(np.mean([r["iou"] for r in v])), 4), "min_iou": min(r["iou"] for r in v),
           "seconds_per_image": round(float(np.mean([r["seconds"] for r in v])), 3)}
    if "cpu_seconds" in v[0]:  # in-process rows (CPU time of every thread of this process)
        out["cpu_seconds_per_image"] = round(float(np.mean([r["cpu_seconds"] for r in v])), 3)
        out["fast_path"] = sum(r["fast_path"] for r in v)
    return out


def run_methods(args: argparse.Namespace, out_path: Path) -> None:
    items = fixtures(args.n, args.seed)
    load0 = os.getloadavg()[0]
    rows = via_cli(items)
    for r in rows:
        print(json.dumps(r), flush=True)
    for label in METHODS:
        rows += one_method(label, items)
    summary = summarise(rows)
    result = {"benchmark": "extract_methods_cpu", "suite": "methods", "fixtures": f"tests/extract_scenes.py seed {args.seed}",
              "default": "ecomctl extract, default settings (auto chain; no Grounded-SAM weights here → saliency)",
              "machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "cpus": os.cpu_count(), "loadavg_start": round(load0, 1),
                          "loadavg_end": round(os.getloadavg()[0], 1)},
              "note": args.note or "2 CPU cores shared with other jobs: seconds are inflated; compare within this run",
              "summary": summary, "items": rows}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))
