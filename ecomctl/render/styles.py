"""Style presets (built-in styles.yaml + a styles.yaml beside the manifest) and styles from a reference image."""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from PIL import ImageColor
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ecomctl import yamlio
from ecomctl.errors import ConfigError
from ecomctl.io import open_image
from ecomctl.textsafe import neutralise
from ecomctl.types import RGB, Style

if TYPE_CHECKING:  # numpy loads only for a reference-image style: `ecomctl validate` stays light
    import numpy as np

BUILTIN = Path(__file__).with_name("styles.yaml")


class _StyleModel(BaseModel):
    """Types of a styles.yaml entry; a key left out takes the `Style` dataclass default (the one place)."""

    model_config = ConfigDict(extra="forbid")
    background: list[RGB]
    gradient: Literal["linear", "radial", "flat"] | None = None
    texture: Literal["none", "grain", "dots", "lines", "paper"] | None = None
    shape: Literal["none", "circle", "arch", "band", "blob"] | None = None
    accent: RGB | None = None
    text: RGB | None = None
    plate: RGB | None = None
    title_weight: int | None = None
    body_weight: int | None = None
    prompt: str | None = None

    @field_validator("accent", "text", "plate", mode="before")
    @classmethod
    def _colour(cls, v: Any) -> Any:
        return _rgb(v)

    @field_validator("background", mode="before")
    @classmethod
    def _colours(cls, v: Any) -> Any:
        return [_rgb(c) for c in (v if isinstance(v, list) else [v])]


def _rgb(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return ImageColor.getrgb(v)[:3]
        except ValueError:
            raise ValueError(f"bad colour {v!r}") from None
    return v


def _read(path: Path) -> dict[str, Style]:
    shown = neutralise(str(path))
    data = yamlio.load_settings_file(path, "styles", shown)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{shown}: a styles file must be a mapping of style name → settings "
                          f"(got a {type(data).__name__}); see manifests/styles.yaml")
    styles = {}
    for name, spec in data.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{shown}: style {neutralise(str(name))}: must be a mapping of settings "
                              f"({', '.join(_StyleModel.model_fields)})")
        try:
            m = _StyleModel.model_validate(spec)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join([neutralise(str(name)), *map(str, err["loc"])])
            raise ConfigError(f"{shown}: style {where}: {neutralise(err['msg'])}") from None
        given = m.model_dump(exclude_none=True) | {"background": tuple(m.background)}
        styles[str(name)] = Style(name=str(name), **given)
    return styles


def load_styles(path: Path | None, manifest_dir: Path | None = None) -> dict[str, Style]:
    """Built-in presets, then `styles.yaml` beside the manifest, then an explicit file (later wins)."""
    styles = _read(BUILTIN)
    beside = manifest_dir / "styles.yaml" if manifest_dir else None
    for extra in (beside, path):
        if extra is not None and Path(extra).is_file():
            styles.update(_read(Path(extra)))
        elif extra is not None and extra is path:
            raise ConfigError(f"{path}: styles file not found")
    return styles


def style_from_reference(path: Path) -> Style:
    """A style taken from a reference image: its palette gives background stops, accent and text colour.
    Remembered per (path, size, mtime_ns): a campaign's reference is decoded once per process, not once
    per SKU and variant."""
    try:
        st = os.stat(path)
    except OSError:
        return _style_from_reference(Path(path))  # open_image names the problem
    return _reference_style(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _reference_style(path: str, size: int, mtime_ns: int) -> Style:
    return _style_from_reference(Path(path))


def _style_from_reference(path: Path) -> Style:
    import numpy as np

    img = open_image(path).convert("RGB")
    img.thumbnail((96, 96))
    px = np.asarray(img, dtype=np.float32).reshape(-1, 3)
    top, bottom = px[: len(px) // 3].mean(0), px[-len(px) // 3:].mean(0)
    sat = px.max(1) - px.min(1)
    accent = px[np.argsort(sat)[-max(1, len(px) // 20):]].mean(0)
    mean_lum = float(px.mean())
    text = (20, 20, 20) if mean_lum > 140 else (245, 245, 245)
    return Style(
        name=f"ref:{Path(path).name}", background=(_t(top), _t(bottom)), gradient="linear",
        texture="none", shape="none", accent=_t(accent), text=text,
        plate=(255, 255, 255) if mean_lum <= 140 else (250, 250, 250),
        prompt="background in the style of the reference image", reference=Path(path),
    )


def _t(v: np.ndarray) -> RGB:
    return tuple(round(float(c)) for c in v[:3])  # type: ignore[return-value]


def resolve_style(value: str | None, styles: dict[str, Style], fallback: str) -> Style:
    if value and Path(value).suffix and Path(value).is_file():
        return style_from_reference(Path(value))
    name = value or fallback
    if name not in styles:
        raise ConfigError(f"unknown style {name!r} (known: {', '.join(sorted(styles))})")
    return styles[name]


# The look a preset gives a poster, as a palette: its two background stops (most of the canvas) and its accent.
_PALETTE_WEIGHTS = (0.4, 0.4, 0.2)


@functools.lru_cache(maxsize=512)
def style_palette(style: Style) -> tuple[np.ndarray, np.ndarray]:
    """(Lab colours, weights) of a style's background stops and accent, for palette ΔE between presets."""
    import numpy as np

    from ecomctl.text.colour import srgb_to_lab

    colours = [style.background[0], style.background[-1], style.accent]
    return srgb_to_lab(np.asarray(colours, dtype=np.float64)), np.asarray(_PALETTE_WEIGHTS)


@functools.lru_cache(maxsize=4096)
def style_distance(a: Style, b: Style) -> float:
    """Palette ΔE between two styles' looks (`style_palette`)."""
    from ecomctl.text.colour import palette_distance

    return palette_distance(style_palette(a), style_palette(b))


def preset_order(key: str, names: Iterable[str]) -> list[str]:
    """Rendezvous order of the presets for one SKU: each name ranked by a hash of (key, name). A new preset
    takes its own place in every SKU's order and leaves the others' relative order as it was."""
    def rank(name: str) -> bytes:
        return hashlib.blake2b(f"{key}\0{name}".encode(), digest_size=8).digest()

    return sorted(names, key=lambda n: (rank(n), n))


def preset_walk(key: str, styles: Mapping[str, Style], count: int, min_delta_e: float) -> list[Style]:
    """The presets of one SKU's `count` variants: variant 1 takes the first in the SKU's rendezvous order,
    each next variant the next preset whose palette is at least `min_delta_e` (ΔE in Lab, `style_palette`)
    from every preset chosen before it (none left that far: the one farthest from them). Past the number of
    presets, variants repeat from the first. A SKU's walk changes only where a new preset is chosen in it."""
    order = [styles[n] for n in preset_order(key, styles)]
    chosen: list[Style] = []
    for k in range(count):
        left = [s for s in order if s not in chosen]
        if not left:
            chosen.append(chosen[k % len(order)])
            continue

        def nearest(s: Style) -> float:
            return min((style_distance(s, c) for c in chosen), default=float("inf"))

        chosen.append(next((s for s in left if nearest(s) >= min_delta_e), None) or max(left, key=nearest))
    return chosen
