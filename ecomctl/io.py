"""File edges: input photos decoded upright and whole (or one clear error), and atomic writes for every
output (a crash never leaves a half-written PNG, sidecar or report)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps


def open_image(path: Path | str) -> Image.Image:
    """A product photo or style image, fully decoded and turned upright by its EXIF orientation (phones
    store portrait shots sideways plus a flag). Raises InputImageError with one line for a file that is
    not an image, is truncated or corrupt, or holds more pixels than Pillow's decompression-bomb limit."""
    from ecomctl.errors import InputImageError
    from ecomctl.textsafe import neutralise

    path = Path(path)
    try:
        with warnings.catch_warnings():
            # past MAX_IMAGE_PIXELS Pillow only warns (an error at twice that): refuse both, a 90 MP+
            # "photo" is a bomb or a mistake, and decoding it would take gigabytes in every worker
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.load()
                return ImageOps.exif_transpose(im)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        found = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{int(found.group(1)) / 1e6:.0f} megapixels" if found else "too many pixels"
        why = f"{size}, over the {(Image.MAX_IMAGE_PIXELS or 0) / 1e6:.0f} MP limit (a decompression bomb?)"
    except Image.UnidentifiedImageError:
        why = "not an image file Pillow can read, or its header is corrupt"
    except FileNotFoundError:
        why = "file not found"
    except OSError as e:
        why = f"truncated or corrupt ({e.strerror or e})"
    except Exception as e:  # noqa: BLE001 — Pillow's decoders raise anything on mangled data
        why = f"corrupt ({type(e).__name__}: {e})"
    raise InputImageError(neutralise(f"cannot read image {path.name}: {why}"))


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


def usable_dir(path: Path, what: str) -> Path:
    """Prove, before any work starts, that the folder `path` can be written (or created and written),
    without creating it: a file, /dev/null, a folder under /proc or a read-only one is one EcomctlError
    line, not a traceback after the first SKU. `what` names the setting (e.g. "--out") in the message."""
    from ecomctl.errors import EcomctlError

    path = Path(path)
    if path.exists() and not path.is_dir():
        kind = "a file" if path.is_file() else "not a folder"  # e.g. /dev/null
        raise EcomctlError(f"{what} {path}: is {kind}; give a folder to write into")
    base = path
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise EcomctlError(f"{what} {path}: cannot create it ({base} is not a folder)")
    try:
        if base == path:
            with tempfile.NamedTemporaryFile(dir=path, prefix=".ecomctl-probe-"):
                pass
        else:
            tempfile.TemporaryDirectory(dir=base, prefix=".ecomctl-probe-").cleanup()
    except OSError as e:  # read-only, not ours, or a virtual file system such as /proc
        verb = "write a file there" if base == path else "create it"
        raise EcomctlError(f"{what} {path}: cannot {verb} ({e.strerror or e})") from None
    return path


def usable_file(path: Path, what: str) -> Path:
    """`path` can be written as a file: not a folder, and its folder is (or can be made) writable."""
    from ecomctl.errors import EcomctlError

    path = Path(path)
    if path.is_dir():
        raise EcomctlError(f"{what} {path}: is a folder; give a file path")
    if path.exists() and not path.is_file():
        raise EcomctlError(f"{what} {path}: is not a regular file; give a file path")
    usable_dir(path.parent, what)
    return path
