"""File edges: input photos decoded upright and whole (or one clear error), and checks that a path the user
gave can be written before any work starts. Output writes live in ecomctl.store.files (the only writer into
OUT)."""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
import warnings
from pathlib import Path

from PIL import Image, ImageOps

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})  # images we read

__all__ = ["IMAGE_SUFFIXES", "file_kind", "open_image", "usable_dir", "usable_file"]


def file_kind(path: Path | str) -> str:
    """What `path` is, by stat alone: "file" (a regular file, or a link to one), "missing", else in words "a
    symlink loop", "a folder", "a named pipe (FIFO)", "a device", "a socket". Never opens it: opening a FIFO
    blocks until something writes to it, and a device may never end. Other OS refusals (permission, name
    too long) raise."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a symlink loop"
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return "missing"
        raise
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "not a regular file"


def open_image(path: Path | str) -> Image.Image:
    """A product photo or style image, fully decoded and turned upright by its EXIF orientation (phones
    store portrait shots sideways plus a flag). Raises InputImageError with one line for a file that is
    not an image, is truncated or corrupt, or holds more pixels than Pillow's decompression-bomb limit, or
    for a path that is not a regular file (checked by stat first: a FIFO is never opened). 16-bit, 32-bit
    and float images come back as 8-bit, scaled."""
    from ecomctl.errors import InputImageError
    from ecomctl.textsafe import neutralise

    path = Path(path)
    try:
        kind = file_kind(path)  # the manifest checked it, but a file can change before its SKU's turn
        if kind != "file":
            raise FileNotFoundError if kind == "missing" else _OddFile(kind)
        with warnings.catch_warnings():
            # past MAX_IMAGE_PIXELS Pillow only warns (an error at twice that): refuse both, a 90 MP+
            # "photo" is a bomb or a mistake, and decoding it would take gigabytes in every worker
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.load()
                return _eight_bit(ImageOps.exif_transpose(im))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        why = bomb_reason(e)
    except Image.UnidentifiedImageError:
        why = "not an image file Pillow can read, or its header is corrupt"
    except FileNotFoundError:
        why = "file not found"
    except _OddFile as e:
        why = f"{e}, not a file"
    except OSError as e:
        why = f"truncated or corrupt ({e.strerror or e})"
    except Exception as e:  # noqa: BLE001 — Pillow's decoders raise anything on mangled data
        why = f"corrupt ({type(e).__name__}: {e})"
    raise InputImageError(neutralise(f"cannot read image {path.name}: {why}"))


def bomb_reason(e: BaseException) -> str:
    """Pillow's decompression-bomb error or warning as the one line ecomctl shows (pixels vs the limit)."""
    found = re.search(r"\((\d+) pixels\)", str(e))
    size = f"{int(found.group(1)) / 1e6:.0f} megapixels" if found else "too many pixels"
    return f"{size}, over the {(Image.MAX_IMAGE_PIXELS or 0) / 1e6:.0f} MP limit (a decompression bomb?)"


class _OddFile(Exception):
    """The path is a folder, FIFO, device, socket or symlink loop (str: which)."""


def _eight_bit(im: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float greyscale as 8-bit "L", scaled: Pillow's own convert clips instead (a 16-bit
    PNG turns white, a 0..1 float image black) and every extractor then fails. 16-bit RGB(A) PNGs already
    decode to 8 bits per channel in Pillow. Integers: 0..255 kept, up to 65535 scaled as 16-bit, wider (or
    negative) stretched from their own range; floats: 0..1 as fractions, else as integers."""
    if im.mode not in ("I", "F") and not im.mode.startswith("I;16"):
        return im
    import numpy as np

    a = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if im.mode == "F" and lo >= 0 and hi <= 1:
        a = a * 255
    elif im.mode.startswith("I;16") or (lo >= 0 and 255 < hi <= 65535):
        a = a / 257
    elif lo < 0 or hi > 255:
        a = (a - lo) * (255 / (hi - lo))
    out = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")
    out.info = dict(im.info)
    return out


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
