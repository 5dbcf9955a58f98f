"""Render benchmark check: two output folders compared poster by poster (pixels and QA figures).

    python benchmarks/compare_posters.py OUT_A OUT_B [--max-mad 2] [--json FILE]

For every `<sku>/<sku>-v<k>.png` in both folders: the mean absolute difference in 0..255 units (the
speed-up's "visually the same" bar is ≤ 2/255), and the QA figures from the sidecars (text NED and
Sen.Acc, subject IoU/PSNR/SSIM, layout contrast, statuses). Exit 1 when a poster is missing from one
side, differs by more than `--max-mad`, or any QA figure or verdict changed. Posters whose mask another
extractor made (the sidecars' `subject.method` differ) changed by design: listed, not held to the bar.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

# QA figures that must not change (sidecar check name → value); text.stray is compared as a verdict
FIGURES = ("text.ned", "text.sen_acc", "subject.iou", "subject.psnr", "subject.ssim", "layout.contrast",
           "layout.overlap", "layout.margin")


def posters(out: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(out.glob("*/*-v*.png")) if p.stem.rsplit("-v", 1)[-1].isdigit()}


def qa_figures(sidecar: Path) -> dict[str, object]:
    data = json.loads(sidecar.read_text(encoding="utf-8"))
    qa = data.get("qa") or {}
    checks = {c["name"]: c for c in qa.get("checks", [])}
    figures: dict[str, object] = {"status": qa.get("status")}
    for name in FIGURES:
        if name in checks:
            figures[name] = checks[name].get("value")
    figures["verdicts"] = {n: c.get("status") for n, c in sorted(checks.items())}
    figures["extractor"] = (data.get("subject") or {}).get("method")
    return figures


def mad(a: Path, b: Path) -> float:
    x = np.asarray(Image.open(a).convert("RGB"), dtype=np.int16)
    y = np.asarray(Image.open(b).convert("RGB"), dtype=np.int16)
    if x.shape != y.shape:
        return float("inf")
    return float(np.abs(x - y).mean())


def compare(out_a: Path, out_b: Path, max_mad: float = 2.0) -> dict[str, object]:
    """Per-poster MAD and QA differences, plus an overall `ok`."""
    pa, pb = posters(out_a), posters(out_b)
    rows, problems = [], []
    for name in sorted(set(pa) | set(pb)):
        if name not in pa or name not in pb:
            problems.append(f"{name}: only in {out_a if name in pa else out_b}")
            continue
        d = mad(pa[name], pb[name])
        fa, fb = qa_figures(pa[name].with_suffix(".json")), qa_figures(pb[name].with_suffix(".json"))
        changed = {k: [fa.get(k), fb.get(k)] for k in sorted(set(fa) | set(fb))
                   if k not in ("verdicts", "extractor") and fa.get(k) != fb.get(k)}
        va, vb = fa["verdicts"], fb["verdicts"]  # a check only one version has is a design change, not a diff
        changed |= {f"verdict {n}": [va[n], vb[n]] for n in sorted(set(va) & set(vb)) if va[n] != vb[n]}
        rows.append({"poster": name, "mad": round(d, 4), "qa_changed": changed,
                     "checks_only_in_a": sorted(set(va) - set(vb)), "checks_only_in_b": sorted(set(vb) - set(va))})
        if fa["extractor"] != fb["extractor"]:
            # another extractor made the mask: the design changed on purpose, not a speed-up's side effect
            rows[-1]["design_changed"] = f"extractor {fa['extractor']} → {fb['extractor']}"
            continue
        if d > max_mad:
            problems.append(f"{name}: mean absolute difference {d:.3f} > {max_mad}")
        if changed:
            problems.append(f"{name}: QA changed {changed}")
    same = [r for r in rows if "design_changed" not in r]
    mads = [r["mad"] for r in same]
    return {"a": str(out_a), "b": str(out_b), "posters": len(rows), "compared": len(same),
            "design_changed": {r["poster"]: r["design_changed"] for r in rows if "design_changed" in r},
            "checks_added": sorted({c for r in rows for c in r["checks_only_in_b"]}),
            "checks_removed": sorted({c for r in rows for c in r["checks_only_in_a"]}),
            "max_mad": max(mads, default=0.0),
            "mean_mad": round(float(np.mean(mads)), 4) if mads else 0.0, "identical": sum(m == 0 for m in mads),
            "ok": not problems, "problems": problems, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--max-mad", type=float, default=2.0, help="largest allowed mean |a-b| (0..255 units)")
    ap.add_argument("--json", type=Path, help="also write the full comparison here")
    args = ap.parse_args(argv)
    result = compare(args.a, args.b, args.max_mad)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    summary = {k: v for k, v in result.items() if k != "rows"}
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
