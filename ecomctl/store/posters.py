"""Write stage: a finished poster and its layers into OUT, and back out again exactly as QA saw it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ecomctl.store import OutputStore, PosterFiles
from ecomctl.store.files import (
    atomic_save_image,
    atomic_write_bytes,
    atomic_write_json,
    bytes_digest,
    encode_image,
    file_digest,
    thumbnail_jpeg,
)
from ecomctl.store.sidecar import (
    SCHEMA,
    SidecarError,
    layout_from_json,
    read_sidecar,
    row_from_json,
    style_from_json,
)
from ecomctl.types import Box, Poster


def _product_box(layer: Image.Image) -> Box:
    """Box of every pixel the product layer touches (alpha > 0); one pixel when it touches none."""
    box = layer.getchannel("A").getbbox()
    return Box(*box) if box else Box(0, 0, 1, 1)


def write_poster(store: OutputStore, poster: Poster, sidecar: dict[str, Any], keep_background: bool,
                 compress_level: int | None = None, thumb: tuple[int, int] | None = None) -> PosterFiles:
    """Write the layers, then the poster, then the sidecar (its presence marks the poster finished).

    `sidecar` holds everything but `schema`, `image`, `files` and `poster`, which are filled in here; its
    `timings` get `write` (layers + poster; the sidecar's own write is not in it) and a new `total`. With
    `thumb` (longest side, JPEG quality) the report's thumbnail is made here from the poster in memory, so
    report.html never decodes the poster again (`stored_thumbnail`)."""
    t = time.perf_counter()
    png = {} if compress_level is None else {"compress_level": compress_level}
    files = store.poster(poster.row.sku, poster.variant)
    names = files.names
    box = _product_box(poster.subject_layer)
    scene = poster.background if poster.background is not None else poster.image
    atomic_save_image(files.layer(names["subject"]), Image.fromarray(np.asarray(poster.subject_mask), "L"), **png)
    atomic_save_image(files.layer(names["cutout"]), poster.subject_layer.crop(tuple(box.as_list())), **png)
    atomic_save_image(files.layer(names["under"]), scene.crop(tuple(box.as_list())).convert("RGB"), **png)
    recorded = {k: names[k] for k in ("mask", "subject", "cutout", "under")} | {"cutout_box": box.as_list()}
    if poster.logo is not None:  # the logo as drawn: what QA compares the poster's logo box with
        atomic_save_image(files.layer(names["logo"]), poster.logo, **png)
    if keep_background and poster.background is not None:
        atomic_save_image(files.layer(names["background"]), poster.background, **png)
        recorded["background"] = names["background"]
    if thumb is not None:
        atomic_write_bytes(files.layer(names["thumb"]), thumbnail_jpeg(poster.image, *thumb))
        recorded |= {"thumb": names["thumb"], "thumb_px": thumb[0], "thumb_quality": thumb[1]}
    data = encode_image(poster.image, ".png", optimize=False, **png)
    atomic_write_bytes(files.image, data)
    st = os.stat(files.image)  # recorded so that later nights verify the poster by its stat, not its bytes
    timings = sidecar["timings"]
    timings["write"] = time.perf_counter() - t
    timings["total"] = sum(s for k, s in timings.items() if k != "total")
    doc = {"schema": SCHEMA, "sku": poster.row.sku, "variant": poster.variant, "image": files.image.name,
           **sidecar, "files": recorded,
           "poster": {"bytes": len(data), "sha256": bytes_digest(data), "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}}
    atomic_write_json(files.sidecar, doc)
    return files


def logo_name(store: OutputStore, poster: Poster) -> str | None:
    """The file name of the poster's logo layer (None without a logo), as the sidecar's layout records it."""
    return store.poster(poster.row.sku, poster.variant).names["logo"] if poster.logo is not None else None


def write_source_mask(store: OutputStore, sku: str, mask: np.ndarray, **png: Any) -> None:
    atomic_save_image(store.source_mask(sku), Image.fromarray(mask, "L"), **png)


def rewrite_sidecar(path: Path, data: dict[str, Any]) -> None:
    """Replace a sidecar (e.g. `ecomctl qa` writing a new verdict), atomically."""
    atomic_write_json(Path(path), data)


def poster_intact(files: PosterFiles, data: dict[str, Any], verify: bool = False) -> bool:
    """True when the poster file and every layer QA needs are there and the poster is the one its sidecar
    recorded (a truncated or replaced poster is rendered again, never 'unchanged').

    The poster is trusted by its stat, as git's index trusts stat data: same size, mtime_ns and inode as
    recorded at write time → unchanged, without reading it. Any write to the file (truncation, a copy over
    it, an editor's save) changes its mtime or inode, and then — or with `verify` — the bytes are hashed
    and compared with the recorded sha256. When the hash agrees (the folder was copied or restored), the
    sidecar's recorded stat is refreshed, so the next night trusts it again (see `check_poster_file` for a
    caller that has more to record in the same sidecar and writes it once)."""
    intact, refreshed = check_poster_file(files, data, verify)
    if refreshed:
        refresh_sidecar(files.sidecar, data)
    return intact


def check_poster_file(files: PosterFiles, data: dict[str, Any], verify: bool = False) -> tuple[bool, bool]:
    """(intact, refreshed): `poster_intact`'s judgement without writing anything; `refreshed` is True when the
    poster was hashed, found equal and its new stat put in `data["poster"]`, which the caller then writes
    (`refresh_sidecar`), together with anything else it refreshes in that sidecar: one write, not two."""
    want = data["poster"]
    try:
        st = files.image.stat()
        if st.st_size != want["bytes"]:
            return False, False
        if not all(files.layer(data["files"][k]).is_file() for k in ("subject", "cutout", "under")):
            return False, False
        logo = data["layout"].get("logo")
        if logo and not files.layer(logo["file"]).is_file():  # QA re-grades the logo box from it
            return False, False
        if not verify and (want.get("mtime_ns"), want.get("ino")) == (st.st_mtime_ns, st.st_ino):
            return True, False
        if file_digest(files.image) != want["sha256"]:
            return False, False
    except OSError:
        return False, False
    if (want.get("mtime_ns"), want.get("ino")) == (st.st_mtime_ns, st.st_ino):
        return True, False
    data["poster"] = {**want, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}
    return True, True


def refresh_sidecar(sidecar: Path, data: dict[str, Any]) -> bool:
    """Write a sidecar whose recorded stat data was refreshed (best effort: a read-only folder just hashes
    again next time); False when it could not be written."""
    try:
        atomic_write_json(Path(sidecar), data)
    except OSError:
        return False
    return True


def stored_thumbnail(sidecar: Path, px: int, quality: int) -> bytes | None:
    """The JPEG thumbnail written with the poster, when it was made with these settings and the poster file
    is still the one the sidecar describes (size and sha256); None otherwise, and the caller makes one."""
    try:
        data = read_sidecar(Path(sidecar), check=False)  # the fast path: any odd field → None, one is made
        recorded = data["files"]
        if not recorded.get("thumb") or (recorded.get("thumb_px"), recorded.get("thumb_quality")) != (px, quality):
            return None
        files = OutputStore(Path(sidecar).parent.parent).of_sidecar(Path(sidecar))
        if Path(recorded["thumb"]).name != recorded["thumb"] or not poster_intact(files, data):
            return None
        return files.layer(recorded["thumb"]).read_bytes()
    except (SidecarError, OSError, KeyError, TypeError, AttributeError, ValueError):
        return None


def _open(path: Path, mode: str) -> Image.Image:
    try:
        with Image.open(path) as im:
            return im.convert(mode)
    except (OSError, ValueError) as e:
        raise SidecarError(f"{path}: cannot read layer: {e}") from None


def load_poster(path: Path) -> Poster:
    """Rebuild a Poster from OUT exactly as QA saw it at render time: final image, intended mask on the
    canvas, the placed product layer, and the scene under the product (the whole background when kept)."""
    path = Path(path)
    d = read_sidecar(path)
    files = OutputStore(path.parent.parent).of_sidecar(path)
    recorded = d["files"]
    image = _open(files.layer(d["image"]), "RGB")
    canvas_mask = np.asarray(_open(files.layer(recorded["subject"]), "L"))
    box = Box.from_list(recorded["cutout_box"])
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    layer.paste(_open(files.layer(recorded["cutout"]), "RGBA"), (box.x0, box.y0))
    background = full_background(path, d)
    if background is None:  # the scene is known under the product, which is all QA compares there
        background = image.copy()
        background.paste(_open(files.layer(recorded["under"]), "RGB"), (box.x0, box.y0))
    meta = {k: d[k] for k in ("backend", "timings", "subject", "key") if k in d}
    meta |= {"sidecar": str(path), "qa": d.get("qa")}
    logo = d["layout"].get("logo")
    return Poster(row=row_from_json(d["inputs"]), variant=d["variant"], seed=d["seed"], image=image,
                  background=background, subject_mask=canvas_mask, subject_layer=layer,
                  layout=layout_from_json(d["layout"]), style=style_from_json(d["style"]), meta=meta,
                  logo=_open(files.layer(logo["file"]), "RGBA") if logo else None)


def full_background(path: Path, data: dict[str, Any] | None = None) -> Image.Image | None:
    """The whole clean background layer when the render kept it (`--keep-layers`), else None."""
    d = data or read_sidecar(path)
    name = d["files"].get("background")
    if not name:
        return None
    bg = Path(path).parent / name
    return _open(bg, "RGB") if bg.is_file() else None
