"""Subject extraction, once per distinct photo: results of the extractor chain keyed by the photo's content
digest and the extraction settings, kept in memory for the worker's life and on disk beside the outputs
(`OUT/.cache/subjects/`), so SKUs sharing a photo and later runs into the same folder skip extraction."""

from __future__ import annotations

import hashlib
import io
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ecomctl.types import Box, Subject

# every Subject field besides the pixels (method, note, confidence, …), stored as JSON
_SCALARS = tuple(f.name for f in fields(Subject) if f.name not in ("image", "mask", "bbox"))
_MEMORY: OrderedDict[str, Subject] = OrderedDict()
_MEMORY_MAX = 16  # subjects kept per process (a 1024² photo + mask is ~4 MB)


def subject_key(digest: str, method: str, prompt: str, settings: dict[str, Any]) -> str:
    """What decides the mask: the photo's bytes, the extractor chain and its settings, the code version."""
    from ecomctl import __version__

    material = {"v": __version__, "image": digest, "method": method, "prompt": prompt, "settings": settings}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:24]


def cached_subject(key: str, folder: Path | None, compute: Callable[[], Subject]) -> Subject:
    """The subject stored under `key` (memory, then `folder`), else `compute()` stored under it."""
    if key in _MEMORY:
        _MEMORY.move_to_end(key)
        return _MEMORY[key]
    subject = _load(folder / f"{key}.npz") if folder is not None else None
    if subject is None:
        subject = compute()
        if folder is not None:
            _save(folder / f"{key}.npz", subject)
    _MEMORY[key] = subject
    while len(_MEMORY) > _MEMORY_MAX:
        _MEMORY.popitem(last=False)
    return subject


def _save(path: Path, s: Subject) -> None:
    """Atomic (temp file + rename, umask honoured): two workers extracting the same photo never leave a
    torn file."""
    from ecomctl.store.files import atomic_write_bytes

    meta = json.dumps({"bbox": s.bbox.as_list(), **{k: getattr(s, k) for k in _SCALARS}})
    buf = io.BytesIO()
    np.savez(buf, image=np.asarray(s.image.convert("RGB")), mask=s.mask, meta=np.array(meta))
    atomic_write_bytes(path, buf.getvalue())


def _load(path: Path) -> Subject | None:
    """The stored subject, or None when absent or unreadable (then it is simply extracted again)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            image, mask = data["image"], data["mask"]
        if image.ndim != 3 or mask.shape != image.shape[:2] or mask.dtype != np.uint8:
            return None
        scalars = {k: meta[k] for k in _SCALARS if k in meta}
        return Subject(Image.fromarray(image, "RGB"), mask, Box(*meta["bbox"]), **scalars)
    except (OSError, ValueError, KeyError, TypeError):
        return None
