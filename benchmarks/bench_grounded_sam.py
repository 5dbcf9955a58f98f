"""Benchmark `grounded-sam` throughput: full-size random-weight GroundingDINO-base + SAM ViT-B, batch 8 vs 1.

Weights are random (built from the published architectures' configs, saved with save_pretrained and
loaded back through the extractor's real loading code), so the masks are meaningless but the compute
is the real one. Images: the demo's flattened packshots repeated to --images. Measured in one run:
batched (--batch per forward) vs one image per forward (baseline) → images/s and the speed-up ratio,
plus seconds per stage (detector, segmenter). Meant for a GPU; `--tiny --device cpu` smoke-tests it.

    .venv/bin/python benchmarks/bench_grounded_sam.py [--device cuda] [--batch 8] [--images 16] [--tiny]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from ecomctl.subject.grounded_sam import GroundedSamExtractor


def build_full_size(root: Path) -> tuple[Path, Path]:
    """GroundingDINO-base (Swin-B, BERT-base text) and SAM ViT-B with random weights, saved to `root`."""
    from tiny_grounded_sam import VOCAB
    from transformers import (
        BertConfig,
        BertTokenizer,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessorPil,
        GroundingDinoProcessor,
        SamConfig,
        SamImageProcessorPil,
        SamModel,
        SamProcessor,
        SwinConfig,
    )

    det_dir, seg_dir = root / "detector", root / "segmenter"
    (root / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    swin_b = SwinConfig(image_size=384, embed_dim=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32],
                        window_size=12, out_features=["stage2", "stage3", "stage4"])
    cfg = GroundingDinoConfig(backbone_config=swin_b, text_config=BertConfig())  # base: 900 queries, 6+6 layers
    GroundingDinoForObjectDetection(cfg).save_pretrained(det_dir)
    GroundingDinoProcessor(image_processor=GroundingDinoImageProcessorPil(),
                           tokenizer=BertTokenizer(str(root / "vocab.txt"))).save_pretrained(det_dir)
    SamModel(SamConfig()).save_pretrained(seg_dir)  # SamConfig() defaults are ViT-B
    SamProcessor(image_processor=SamImageProcessorPil()).save_pretrained(seg_dir)
    return det_dir, seg_dir


def photos(n: int) -> list[Image.Image]:
    src = sorted((ROOT / "manifests" / "assets").glob("*-flat.jpg"))
    return [Image.open(src[i % len(src)]).convert("RGB") for i in range(n)]


def run(ex: GroundedSamExtractor, images: list[Image.Image], sync) -> dict[str, float]:
    m = ex.models()
    stages = {"detector": 0.0, "segmenter": 0.0}
    step = ex.settings.batch_size
    t0 = time.perf_counter()
    for i in range(0, len(images), step):
        chunk = images[i:i + step]
        t = time.perf_counter()
        boxes = ex.detect(m, chunk, ["product"] * len(chunk))
        sync()
        stages["detector"] += time.perf_counter() - t
        t = time.perf_counter()
        ex.segment(m, chunk, [b or [[0, 0, im.width, im.height]] for b, im in zip(boxes, chunk)])
        sync()
        stages["segmenter"] += time.perf_counter() - t
    total = time.perf_counter() - t0
    return {"seconds": round(total, 4), "images_per_s": round(len(images) / total, 3),
            **{f"{k}_seconds": round(v, 4) for k, v in stages.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--tiny", action="store_true", help="tiny models (smoke test of this script)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "grounded_sam_gpu.json")
    args = ap.parse_args()
    import torch

    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    with tempfile.TemporaryDirectory() as tmp:
        if args.tiny:
            from tiny_grounded_sam import build_tiny_grounded_sam

            det, seg = build_tiny_grounded_sam(Path(tmp))
        else:
            det, seg = build_full_size(Path(tmp))
        common = {"detector": str(det), "segmenter": str(seg), "box_threshold": 0.0, "text_threshold": 0.0,
                  "device": args.device}
        batched = GroundedSamExtractor(common | {"batch_size": args.batch})
        single = GroundedSamExtractor(common | {"batch_size": 1})
        single._models = batched.models()  # same weights: only the batching differs
        images = photos(args.images)
        run(batched, images[:args.batch], sync)  # warm-up (kernels, allocator)
        result = {"batched": run(batched, images, sync), "one_per_forward": run(single, images, sync)}
    result["speedup_batched_vs_single"] = round(result["one_per_forward"]["seconds"] / result["batched"]["seconds"], 2)
    result |= {"benchmark": "grounded_sam", "models": "tiny" if args.tiny else
               "random GroundingDINO-base (Swin-B, BERT-base) + SAM ViT-B", "batch": args.batch,
               "images": args.images, "device": args.device, "dtype": "float32",
               "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
               "torch": torch.__version__, "platform": platform.platform()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
