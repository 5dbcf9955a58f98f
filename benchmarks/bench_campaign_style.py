"""Measure the campaign style score: render manifests/campaigns.csv (two campaigns, first-scene references)
and score every poster against both campaign references with the learned style embedding (qa/style.py).

The JSON gives, per (poster campaign, reference) pair, the mean/min/max cosine, the per-poster table, the
reference-vs-reference cosine and the embedding's seconds per image on this CPU.

    .venv/bin/python benchmarks/bench_campaign_style.py [--out results/campaign_style.json]
"""

from __future__ import annotations

import argparse
import json
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
from ecomctl.qa.style import MODEL, style_vector


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "campaign_style.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        t0 = time.perf_counter()
        summary = run_render(ROOT / "manifests" / "campaigns.csv", load_config(None, {"run.out": str(out)}))
        render_s = time.perf_counter() - t0
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        names = sorted(report["campaigns"])
        refs = {n: style_vector(Image.open(out / report["campaigns"][n]["reference"])) for n in names}
        posters, pairs, t_embed = [], {}, []
        for item in report["items"]:
            mask = np.asarray(Image.open(out / item["sku"] / f"{item['name']}.subject.png"))
            t = time.perf_counter()
            vec = style_vector(Image.open(out / item["image"]), mask)
            t_embed.append(time.perf_counter() - t)
            row = {n: round(float(vec @ refs[n]), 4) for n in names}
            posters.append({"poster": item["name"], "campaign": item["campaign"], "status": item["status"],
                            "reported": item["metrics"].get("style.campaign"), "vs_reference": row})
            for n in names:
                pairs.setdefault(f"{item['campaign']} posters vs {n} reference", []).append(row[n])
    result = {
        "what": "campaign style-consistency score (cosine of learned style vectors), demo split in two campaigns",
        "model": MODEL, "manifest": "manifests/campaigns.csv", "backend": "compose",
        "exit_code": summary.exit_code, "posters": len(posters), "render_seconds": round(render_s, 1),
        "reference_vs_reference": round(float(refs[names[0]] @ refs[names[1]]), 4),
        "pairs": {k: {"mean": round(float(np.mean(v)), 4), "min": min(v), "max": max(v)}
                  for k, v in sorted(pairs.items())},
        "embed_seconds_per_image": round(float(np.median(t_embed)), 4),
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
        "per_poster": posters,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("reference_vs_reference", "pairs", "embed_seconds_per_image")},
                     indent=1))


if __name__ == "__main__":
    main()
