"""File edges: input photos decoded upright and whole (or one clear error), and checks that a path the user
gave can be written before any work starts. Output writes live in ecomctl.store.files (the only writer into
OUT)."""

from __future__ import annotations

import re
import tempfile
import warnings
from pathlib import Path

from PIL import Image, ImageOps

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})  # images we read

__all__ = ["IMAGE_SUFFIXES", "open_image", "usable_dir", "usable_file"]


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
