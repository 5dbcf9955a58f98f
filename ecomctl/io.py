"""Atomic file writes for every output (a crash never leaves a half-written PNG, sidecar or report)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def atomic_save_image(path: Path, img: Image.Image, **params: Any) -> None:
    import io

    buf = io.BytesIO()
    fmt = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    img.save(buf, format=fmt, **params)
    atomic_write_bytes(path, buf.getvalue())


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (inputs are keyed by content, so a touched-but-equal file is not re-rendered)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def output_lock(out: Path):
    """An exclusive lock on an output folder: two runs (say, a cron job and a manual re-run) never write
    the same posters and reports at once. Raises EcomctlError at once if another run holds it."""
    import contextlib

    from filelock import FileLock, Timeout

    from ecomctl.errors import EcomctlError

    out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out / ".ecomctl.lock"))

    @contextlib.contextmanager
    def held():
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise EcomctlError(f"{out} is being written by another ecomctl run (lock {lock.lock_file}); "
                               "wait for it to finish or use another --out") from None
        try:
            yield
        finally:
            lock.release()

    return held()
