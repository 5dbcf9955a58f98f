"""Write stage, lowest level: atomic file writes that honour the umask, content digests, the folder lock."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from ecomctl.errors import EcomctlError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a hidden temporary file beside `path`, then rename it over `path`: a crash never
    leaves a half-written file. The temporary file is created with mode 0666 filtered by the process
    umask (mkstemp would force 0600 on every output)."""
    with atomic_writer(path) as f:
        f.write(data)


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[Any]:
    """`atomic_write_bytes` for a file written in pieces (a report of 100,000 rows is streamed, never held
    whole): a binary file to write into; renamed over `path` when the block ends, removed if it raises."""
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                yield f
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


# run faults: the output disk itself cannot take writes, so every SKU after this one would fail the same way
_FAULTS = {
    "ENOSPC": ("no space left on device", "free space"),
    "EDQUOT": ("disk quota exceeded", "free space or raise the quota"),
    "EROFS": ("read-only file system", "make the folder writable again"),
    "EIO": ("input/output error", "check the disk (dmesg)"),
}
# errno → (what, remedy); a platform without one of these codes (EDQUOT on some) simply never sees it
FAULTS = {getattr(errno, name): text for name, text in _FAULTS.items() if hasattr(errno, name)}


@contextlib.contextmanager
def writing(path: Path | str) -> Iterator[None]:
    """Mark an OSError raised inside as a failed write of `path`: its run-fault line names the file, and
    an EIO counts as a run fault only on a write (a read EIO is one bad input file: that SKU's error)."""
    try:
        yield
    except OSError as e:
        if getattr(e, "ecomctl_writing", None) is None:
            e.ecomctl_writing = str(path)
        raise


def fault_error(exc: BaseException | None) -> OSError | None:
    """The run-fault OSError in `exc` or what it wraps (`__cause__`, else `__context__` unless suppressed,
    as a traceback shows them: PIL, numpy and our own errors may wrap the OSError), else None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in FAULTS and (
                exc.errno != errno.EIO or getattr(exc, "ecomctl_writing", None) is not None):
            return exc
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return None


def fault_of(exc: BaseException | None) -> str | None:
    """One line naming the run fault in `exc`, e.g. "no space left on device (ENOSPC) writing OUT/a/a-v1.png";
    None when `exc` is no run fault (then it is the SKU's own error, as before)."""
    err = fault_error(exc)
    if err is None:
        return None
    what = f"{FAULTS[err.errno][0]} ({errno.errorcode[err.errno]})"
    target = getattr(err, "ecomctl_writing", None)
    if target is not None:
        return f"{what} writing {target}"
    return f"{what} at {err.filename}" if err.filename else what


def fault_remedy(fault: str) -> str:
    """What to do about the fault line `fault_of` made, before running the same command again."""
    for name, (_, remedy) in _FAULTS.items():
        if f"({name})" in fault:
            return remedy
    return "fix the output folder"


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


FAST_PNG_LEVEL = 1  # `render.png_compress` 1: the fast lossless encoder below; other levels: Pillow's zlib


def encode_image(img: Image.Image, suffix: str = ".png", **params: Any) -> bytes:
    """The image's file bytes. A PNG asked for at compress_level 1 (render's default) of an L/RGB/RGBA image
    goes through the fast encoder; every other request through Pillow with `params` as given."""
    fmt = "JPEG" if suffix.lower() in (".jpg", ".jpeg") else "PNG"
    fast = (fmt == "PNG" and params.get("compress_level") == FAST_PNG_LEVEL and not params.get("optimize")
            and set(params) <= {"compress_level", "optimize"} and img.mode in ("L", "RGB", "RGBA"))
    if fast:
        return encode_png_fast(img)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def encode_png_fast(img: Image.Image) -> bytes:
    """Lossless PNG of an L, RGB or RGBA image, fast: RGB/RGBA through fpng (single-pass deflate), L through
    OpenCV's libpng with the zlib RLE strategy and the "Up" row filter for every row (fpng has no grey).

    Measured on the 48 packshot posters and their layers (CPU-s, MB): Pillow at compress_level 1 (adaptive
    filters) 5.7 s / 69.7 MB; libpng RLE + Up for every image 2.9 s / 71.9 MB; fpng + libpng for the masks
    0.85 s / 79.1 MB: 1/7 of the CPU for files 1.13x the size. Every encoder decodes to exactly the same
    pixels (tests/test_store_png.py)."""
    if img.mode in ("RGB", "RGBA"):
        data = _fpng(img)
        if data:
            return data
    return _libpng_fast(img)


def _fpng(img: Image.Image) -> bytes | None:
    try:
        import fpng
    except ImportError:  # a platform without its wheel: libpng, slower, same pixels
        return None
    return fpng.from_bytes(img.tobytes(), img.width, img.height, len(img.mode)) or None


def _libpng_fast(img: Image.Image) -> bytes:
    import cv2
    import numpy as np

    arr = np.asarray(img)
    if img.mode == "RGB":
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    elif img.mode == "RGBA":
        arr = cv2.cvtColor(arr, cv2.COLOR_RGBA2BGRA)
    params = [cv2.IMWRITE_PNG_COMPRESSION, FAST_PNG_LEVEL, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
    if hasattr(cv2, "IMWRITE_PNG_FILTER"):  # OpenCV >= 4.10; older ones keep libpng's adaptive filters
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr), params)
    if not ok:  # never seen; Pillow is always right, only slower
        out = io.BytesIO()
        img.save(out, format="PNG", compress_level=FAST_PNG_LEVEL)
        return out.getvalue()
    return buf.tobytes()


def thumbnail_jpeg(img: Image.Image, px: int, quality: int) -> bytes:
    """report.html's thumbnail of an image: RGB, longest side at most `px` (Pillow's thumbnail), optimised JPEG.
    The worker makes it from the poster in memory at write time; the report only reads it back."""
    small = img.convert("RGB")  # a copy: thumbnail() resizes in place
    small.thumbnail((px, px))
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def atomic_save_image(path: Path, img: Image.Image, **params: Any) -> None:
    atomic_write_bytes(path, encode_image(img, Path(path).suffix, **params))


def bytes_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (inputs are keyed by content, so a touched-but-equal file is not re-rendered)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def stat_key(path: Path) -> list[int]:
    """[size, mtime_ns] of a file: what a sidecar records of a source photo, so the next night trusts the
    recorded digest while the photo's stat is unchanged (git's index does the same). Raises OSError."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


_DIGESTS: dict[tuple[str, int, int], str] = {}
_DIGESTS_MAX = 4096


def cached_digest(path: Path) -> str:
    """file_digest, remembered in this process by (path, size, mtime_ns): a photo or campaign reference shared
    by many SKUs is read once per process, not once per SKU."""
    size, mtime = stat_key(path)
    key = (str(path), size, mtime)
    digest = _DIGESTS.get(key)
    if digest is None:
        digest = file_digest(path)
        if len(_DIGESTS) >= _DIGESTS_MAX:
            _DIGESTS.clear()
        _DIGESTS[key] = digest
    return digest


def output_lock(out: Path) -> contextlib.AbstractContextManager[None]:
    """An exclusive lock on an output folder: two runs (say, a cron job and a manual re-run) never write
    the same posters and reports at once. Raises EcomctlError at once if another run holds it."""
    from filelock import FileLock, Timeout

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out / ".ecomctl.lock"))

    @contextlib.contextmanager
    def held() -> Iterator[None]:
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
