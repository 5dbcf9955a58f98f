"""Benchmark the write stage, the QA pixel checks and the report's thumbnails, against an earlier commit in the same run.

Posters: an output folder of `ecomctl render` (default: benchmarks/manifests/packshots48.csv rendered serially
into a temporary folder). Each poster is loaded back from OUT exactly as QA saw it, then, in CPU-seconds
(`time.process_time`, best of --repeat):
  - qa_pixels: `check_poster` with text QA off (check_image, check_subject, check_layout, mask confidence);
  - write: `write_poster` of every poster (layers, poster, sidecar; the report thumbnail where the code makes one);
  - report_thumbs: `page_context` of report.html over the written posters (thumbnails included);
for this tree and for `--baseline REF` (its `ecomctl/` extracted with `git archive` and imported instead),
each in its own process. Also the PNG encoders on the same images (Pillow at compress_level 1, libpng RLE +
Up, the fast path), with bytes and an exact round-trip check. Figures must not move: the QA results of both
trees are compared and the run fails if any differs.

    .venv/bin/python benchmarks/bench_write_qa.py [--out OUT] [--baseline f56ecf6] [--repeat 3]
"""

from __future__ import annotations

import argparse
import copy
import inspect
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "write_qa_cpu.json"


def measure(out: Path, repeat: int) -> dict:
    """The three stages on the posters of `out`, with whatever `ecomctl` is importable (this tree or the baseline)."""
    from ecomctl.config import load_config
    from ecomctl.qa import check_poster, thresholds
    from ecomctl.qa.report import report_rows
    from ecomctl.qa.report_html import page_context
    from ecomctl.store import OutputStore
    from ecomctl.store.posters import load_poster, write_poster
    from ecomctl.types import ItemResult

    src = OutputStore(out).sidecars()
    posters = [load_poster(p) for p in src]
    sidecars = [json.loads(p.read_text(encoding="utf-8")) for p in src]
    cfg = load_config(environ={}, overrides={"qa.text.enabled": False})
    limits = thresholds(cfg)
    thumb = "thumb" in inspect.signature(write_poster).parameters
    kw = {"thumb": (limits.report.thumb_px, limits.report.thumb_quality)} if thumb else {}
    best: dict[str, float] = {}
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        store = OutputStore(Path(tmp))
        for _ in range(repeat):
            t = time.process_time()
            verdicts = [check_poster(p, cfg) for p in posters]
            best["qa_pixels"] = min(best.get("qa_pixels", 1e9), time.process_time() - t)
            figures = [[(c.name, c.value, c.status) for c in v.checks] + [json.dumps(
                {k: v.details.get(k) for k in ("subject", "layout")}, sort_keys=True)] for v in verdicts]
            t = time.process_time()
            results = []
            for p, sc in zip(posters, sidecars):
                keep = {k: copy.deepcopy(v) for k, v in sc.items()
                        if k not in ("schema", "sku", "variant", "image", "files", "poster")}
                f = write_poster(store, p, keep, keep_background=False, compress_level=1, **kw)
                results.append(ItemResult(sku=p.row.sku, variant=p.variant, status="pass", image=f.image,
                                          sidecar=f.sidecar))
            best["write"] = min(best.get("write", 1e9), time.process_time() - t)
            rows = report_rows(results, store.root)
            t = time.process_time()
            page_context(rows, results, store.root, limits)
            best["report_thumbs"] = min(best.get("report_thumbs", 1e9), time.process_time() - t)
        written = sum(f.stat().st_size for f in store.root.glob("*/*") if f.suffix in (".png", ".jpg"))
    return {"posters": len(posters), "cpu_s": {k: round(v, 3) for k, v in best.items()}, "bytes_written": written,
            "thumbnail_in_worker": thumb, "figures": figures}


def encoders(out: Path) -> dict:
    """Pillow level 1 vs libpng RLE + Up vs the write stage's fast path, on every poster and layer PNG of `out`."""
    import numpy as np
    from PIL import Image

    from ecomctl.store.files import _libpng_fast, encode_png_fast

    images = []
    for p in sorted(out.glob("*/*.png")):
        with Image.open(p) as im:
            images.append(im.copy())

    def pillow(im: Image.Image) -> bytes:
        buf = io.BytesIO()
        im.save(buf, "PNG", compress_level=1)
        return buf.getvalue()

    rows = {}
    for name, fn in (("pillow_level1", pillow), ("libpng_rle_up", _libpng_fast), ("fast_path", encode_png_fast)):
        t = time.process_time()
        data = [fn(im) for im in images]
        seconds = time.process_time() - t
        exact = all(np.array_equal(np.asarray(Image.open(io.BytesIO(d))), np.asarray(im)) for d, im in zip(data, images))
        rows[name] = {"cpu_s": round(seconds, 3), "mb": round(sum(map(len, data)) / 1e6, 1), "lossless": exact}
    base = rows["pillow_level1"]
    for r in rows.values():
        r["speedup"] = round(base["cpu_s"] / r["cpu_s"], 2)
        r["size_ratio"] = round(r["mb"] / base["mb"], 3)
    return {"images": len(images), "encoders": rows}


def _run(code_root: Path, out: Path, repeat: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(code_root))
    cmd = [sys.executable, __file__, "--measure", "--out", str(out), "--repeat", str(repeat)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=code_root)
    return json.loads(res.stdout.splitlines()[-1])


def _render(out: Path) -> None:
    env = dict(os.environ, ECOMCTL_RUN__EXECUTOR="serial")
    manifest = ROOT / "benchmarks" / "manifests" / "packshots48.csv"
    subprocess.run([sys.executable, "-m", "ecomctl", "render", str(manifest), "--out", str(out), "-j", "1", "--quiet"],
                   env=env, check=False, cwd=ROOT)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="a render output folder (default: render packshots48 into a temp dir)")
    ap.add_argument("--baseline", default="f56ecf6", help="git revision whose ecomctl/ is the baseline")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, default=RESULT)
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.out, args.repeat)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "out"
        if args.out is None:
            _render(out)
        base_root = Path(tmp) / "baseline"
        base_root.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline, "ecomctl"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base_root)], input=archive, check=True)
        ours, base = _run(ROOT, out, args.repeat), _run(base_root, out, args.repeat)
        enc = encoders(out)
    same = ours.pop("figures") == base.pop("figures")
    ratio = {k: round(base["cpu_s"][k] / ours["cpu_s"][k], 2) for k in ours["cpu_s"]}
    doc = {"benchmark": "write stage, QA pixel checks, report thumbnails (CPU-seconds)", "manifest": "packshots48",
           "machine": platform.platform(), "python": platform.python_version(), "baseline": args.baseline,
           "ours": ours, "baseline_result": base, "speedup": ratio, "qa_figures_identical": same, **enc}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(doc, indent=2))
    return 0 if same and all(r["lossless"] for r in enc["encoders"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
