"""Default OCR engine: RapidOCR 3 (PP-OCR det/rec ONNX models shipped in its wheel) on onnxruntime."""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ecomctl.text.ocr import OCR_ENGINES, OcrLine, OcrSettings, OcrText, quad_to_box
from ecomctl.types import Box

# Only the models bundled in the wheel work offline; other model types/langs make rapidocr download.
_ALLOWED = {"text_score", "box_thresh", "unclip_ratio", "rec_batch_num", "limit_side_len"}
_READ_CACHE = 4096  # line reads remembered per process (a few hundred bytes each)
_PARAM_PATH = {
    "text_score": "Global.text_score",
    "box_thresh": "Det.box_thresh",
    "unclip_ratio": "Det.unclip_ratio",
    "limit_side_len": "Det.limit_side_len",
    "rec_batch_num": "Rec.rec_batch_num",
}


class RapidOcrEngine:
    name = "rapidocr"

    def __init__(self, settings: OcrSettings):
        self.settings = settings
        self._engine: Any = None
        self._detectors: dict[int, Any] = {}  # max_side → detection-only engine (Det.limit_type: max)
        self._rec: Any = None
        self._reads: dict[bytes, OcrText] = {}  # crop digest → read (insertion-ordered: oldest evicted)
        self._lock = threading.Lock()  # RapidOCR keeps per-call flags on the instance

    def unavailable(self) -> str | None:
        from importlib.util import find_spec

        # found, not imported: importing rapidocr parses its model tables (~1 s), which only the
        # processes that read text should pay (not the main process of a worker pool)
        missing = [m for m in ("onnxruntime", "rapidocr") if find_spec(m) is None]
        if missing:
            return f"{missing[0]} is not installed: pip install 'rapidocr>=3' onnxruntime"
        unknown = sorted(set(self.settings.rapidocr) - _ALLOWED)
        if unknown:
            return f"unsupported ocr.rapidocr settings {unknown} (allowed: {sorted(_ALLOWED)})"
        return None

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"Global.log_level": "error", "Global.text_score": self.settings.min_score}
        params.update({_PARAM_PATH[k]: v for k, v in self.settings.rapidocr.items()})
        if self.settings.threads > 0:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = self.settings.threads
            params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
        return params

    def _get(self) -> Any:
        if self._engine is None:
            from rapidocr import RapidOCR

            self._engine = RapidOCR(params=self._params())
        return self._engine

    def recognize(self, crops: Sequence[np.ndarray]) -> list[OcrText]:
        """Each crop read alone at its own width (see `_read_line`); a crop already read in this process
        (the same pixels: a line on a plate shared by a SKU's variants) is answered from memory."""
        out = []
        with self._lock:
            for crop in crops:
                key = _digest(crop)
                hit = self._reads.get(key)
                if hit is None:
                    hit = self._reads[key] = self._read_line(crop)
                    if len(self._reads) > _READ_CACHE:
                        self._reads.pop(next(iter(self._reads)))
                out.append(hit)
        return out

    def _read_line(self, crop: np.ndarray) -> OcrText:
        """RapidOCR's recogniser on one line, resized to its height (48 px) and padded only to its own
        width rounded up to 8 px. RapidOCR's batched call pads every line of a batch to the widest one and
        to at least 320 px, so a short line ("¥59") cost as much as the longest; PP-OCR attends across the
        padding, so that padding also changed reads (dropped spaces) with the lines batched beside it. Read
        alone, a line's result depends on its pixels only (and is cacheable), at ~55% of the CPU."""
        rec = self._recognizer()
        bgr = _bgr(crop)
        h, w = bgr.shape[:2]
        height = rec.rec_image_shape[1]
        width = max(height, 8 * math.ceil(height * w / max(1, h) / 8))
        batch = rec.resize_norm_img(bgr, width / height)[np.newaxis].astype(np.float32)
        lines, _ = rec.postprocess_op(rec.session(batch), False, wh_ratio_list=[w / max(1, h)],
                                      max_wh_ratio=width / height)
        text, score = lines[0]
        return OcrText(str(text), float(score))

    def _recognizer(self) -> Any:
        """RapidOCR's recogniser, its onnxruntime session rebuilt once with threads that do not spin (idle
        worker threads busy-waiting steal the cores the other workers and processes need) and with the
        memory arena on (same numbers, ~10% less CPU: buffers are reused instead of faulted in per call)."""
        if self._rec is None:
            rec = self._get()._load_rec_model()
            rec.session.session = _quiet_session(rec.session.session, self.settings.threads)
            self._rec = rec
        return self._rec

    def _detector(self, max_side: int | None) -> Any:
        if not max_side:
            return self._get()
        if max_side not in self._detectors:
            from rapidocr import RapidOCR

            params = {**self._params(), "Det.limit_type": "max", "Det.limit_side_len": int(max_side)}
            self._detectors[max_side] = RapidOCR(params=params)
        return self._detectors[max_side]

    def detect(self, image: np.ndarray, max_side: int | None = None) -> list[Box]:
        with self._lock:
            out = self._detector(max_side)(_bgr(image), use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(out, "boxes", None)
        return [] if boxes is None else [quad_to_box(q) for q in boxes]

    def read(self, image: np.ndarray) -> list[OcrLine]:
        with self._lock:
            out = self._get()(_bgr(image), use_det=True, use_cls=True, use_rec=True)
        if getattr(out, "boxes", None) is None or not getattr(out, "txts", None):
            return []
        return [OcrLine(str(t), float(s), quad_to_box(q)) for q, t, s in zip(out.boxes, out.txts, out.scores)]


def _quiet_session(session: Any, threads: int) -> Any:
    """The same model in a session with non-spinning intra-op threads (`threads`, 0 = all cores)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    opts.enable_cpu_mem_arena = True  # reuse buffers between calls: without it every call page-faults afresh
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = max(0, threads)
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(session._model_path, sess_options=opts, providers=["CPUExecutionProvider"])


def _digest(crop: np.ndarray) -> bytes:
    h = hashlib.blake2b(repr((crop.shape, crop.dtype.str)).encode(), digest_size=16)
    h.update(np.ascontiguousarray(crop).data)
    return h.digest()


def _bgr(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, :, ::-1])


OCR_ENGINES.add("rapidocr", RapidOcrEngine)
