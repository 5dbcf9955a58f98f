"""Layered configuration: defaults.yaml < config file < ECOMCTL__SECTION__KEY env vars < CLI flags."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from ecomctl import yamlio
from ecomctl.errors import ConfigError

DEFAULTS_FILE = Path(__file__).with_name("defaults.yaml")
ENV_PREFIX = "ECOMCTL__"
M = TypeVar("M", bound=BaseModel)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Field types and value rules only: every default value lives in defaults.yaml (loaded under every layer).
class RunConfig(_Section):
    out: Path
    seed: int
    workers: int = Field(ge=1)
    executor: Literal["auto", "serial", "process", "gpu", "ray"]
    skip_finished: bool
    keep_layers: bool
    ray_address: str | None  # Ray cluster address ("auto" joins a running cluster); None = local
    ray_actors: int | None  # Ray actors; None = one per GPU (cuda devices) or per CPU of the cluster
    item_timeout: float | None = Field(gt=0)  # seconds one SKU may run in a worker; None = no limit
    max_attempts: int = Field(ge=1)  # tries of a SKU whose worker, Ray actor or node is lost (pools and Ray)

    def thread_share(self) -> int:
        """Intra-op threads for each worker's onnxruntime sessions (OCR, saliency): the cores split between
        the worker processes (workers × threads = cores); 0 (the library's default) with one worker."""
        return 0 if self.workers <= 1 else max(1, (os.cpu_count() or 1) // self.workers)

    @field_validator("out", mode="before")
    @classmethod
    def _out(cls, v: Any) -> Any:
        """An empty `--out ""` (an unset shell variable) must not quietly mean the current folder."""
        if isinstance(v, str) and not v.strip():
            raise ValueError("empty output folder; give a path ('.' for the current folder)")
        return v


class RenderConfig(_Section):
    backend: str
    size: str
    variants: int = Field(ge=1, le=16)
    styles: Path | None
    device: str
    campaign: str | None  # campaign of rows that name none (--campaign)
    campaigns: dict[str, Path]  # campaign → reference image (--campaign-ref); others: their first scene
    png_compress: int = Field(ge=0, le=9)
    variant_delta_e: float = Field(ge=0)  # unstyled SKUs: a variant's preset this far (palette ΔE) from the others

    @field_validator("size")
    @classmethod
    def _size(cls, v: str) -> str:
        from ecomctl.sizes import parse_size  # the manifest's rule: WxH 256..4096 or a preset

        parse_size(v)
        return v


class InputConfig(_Section):
    """Photos by URL (ecomctl/photos.py): which hosts, and how long and how much a download may take."""

    url_hosts: list[str] | None  # None = any host
    url_connect_timeout: float = Field(gt=0)
    url_read_timeout: float = Field(gt=0)
    url_download_timeout: float = Field(gt=0)
    url_retries: int = Field(ge=0, le=10)
    url_max_redirects: int = Field(ge=0, le=30)
    url_max_mb: float = Field(gt=0)
    url_concurrency: int = Field(ge=1, le=64)
    url_cache_days: float = Field(ge=0)  # a cached photo no run named for this long is deleted (0: never)
    logos: Path | None  # a folder of brand logos for shop exports: <brand>.png (any case)

    @field_validator("url_hosts")
    @classmethod
    def _hosts(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        hosts = [h.strip().lower() for h in v]
        bad = [h for h in hosts if not re.fullmatch(r"(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?", h)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a host name (e.g. cdn.example.com or *.example.com)")
        return hosts


class SubjectConfig(BaseModel):
    # extractor-specific sub-sections (e.g. `grounded-sam:`) are validated by their extractor
    model_config = ConfigDict(extra="allow")
    method: str
    default_prompt: str
    studio_fast_path: bool  # auto chain: the `studio` step, seeded saliency on plain backdrops (subject/studio.py)


class TextConfig(_Section):
    font: Path | None
    min_font_size: int
    margin: float
    min_contrast: float

    @field_validator("font")
    @classmethod
    def _font(cls, v: Path | None) -> Path | None:
        """A missing or non-font file stops the run up front, not as an error row per SKU."""
        if v is None:
            return v
        if not v.is_file():
            raise ValueError(f"font file not found: {v}")
        from PIL import ImageFont

        try:
            ImageFont.truetype(str(v), size=12)
        except OSError as e:
            raise ValueError(f"{v} is not a font FreeType can read ({e}); give a .ttf/.otf/.ttc") from None
        return v


class Config(_Section):
    run: RunConfig
    render: RenderConfig
    input: InputConfig
    subject: SubjectConfig
    text: TextConfig
    # sections owned by one stage each; that stage's model validates them (see `typed`)
    qa: dict[str, Any]
    ocr: dict[str, Any]
    backends: dict[str, dict[str, Any]]
    dataset: dict[str, Any]
    _typed: dict[str, Any] = PrivateAttr(default_factory=dict)
    # dotted key → where its value came from (the --config file, ECOMCTL__… or `--set KEY`), for error lines
    _origins: dict[str, tuple[int, str]] = PrivateAttr(default_factory=dict)

    def typed(self, name: str, model: type[M], data: dict[str, Any] | None = None) -> M:
        """A stage-owned section (qa, ocr …) validated by that stage's model once per resolved Config: the
        command resolves it at its start (preflight, exit 2 on a bad value) and every later use — per
        poster, per SKU, per report, in every worker — gets the same typed object. `data` replaces the
        raw section (e.g. the OCR section with the per-worker thread share filled in)."""
        if name not in self._typed:
            self._typed[name] = validate_section(model, self.section(name) if data is None else data, name,
                                                 self._origins)
        return self._typed[name]

    def section(self, name: str) -> dict[str, Any]:
        """A stage-owned section as a plain dict (qa, ocr, dataset, backends.NAME, subject.NAME)."""
        head, _, tail = name.partition(".")
        value = getattr(self, head)
        if isinstance(value, BaseModel):
            value = value.model_dump()
        if tail:
            value = value.get(tail) or {}
        return dict(value)


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, val in over.items():
        if isinstance(val, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], val)
        else:
            out[key] = val
    return out


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    node = tree
    *parents, leaf = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"config key {dotted!r}: {p!r} is not a section")
    node[leaf] = value


def _read_yaml(path: Path) -> dict[str, Any]:
    data = yamlio.load_settings_file(path, "config") or {}  # safe constructors only, alias expansion bounded
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: config must be a mapping of sections")
    return data


def _leaves(tree: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys a layer sets: {"qa": {"layout": {"x": 1}}} → ["qa.layout.x"]."""
    out: list[str] = []
    for key, val in tree.items():
        dotted = f"{prefix}{key}"
        out += _leaves(val, dotted + ".") if isinstance(val, dict) and val else [dotted]
    return out


def _env_layer(environ: dict[str, str], origins: dict[str, tuple[int, str]] | None = None) -> dict[str, Any]:
    """ECOMCTL__RENDER__BACKEND=sdxs → {"render": {"backend": "sdxs"}}; values parsed as YAML scalars."""
    tree: dict[str, Any] = {}
    for key, raw in environ.items():
        if key.startswith(ENV_PREFIX):
            dotted = key[len(ENV_PREFIX):].lower().replace("__", ".")
            try:
                value = yamlio.load_text(raw) if raw else raw
            except yamlio.YamlProblem as e:
                raise ConfigError(f"environment {key}: {e.message}") from None
            set_dotted(tree, dotted, value)
            if origins is not None:
                origins.update({k: (2, key) for k in _leaves({dotted: value})})
    return tree


def load_config(
    file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    base: dict[str, Any] | None = None,
    sets: dict[str, Any] | None = None,
) -> Config:
    """Resolve the configuration; `overrides` maps dotted keys (``render.backend``) to flag values;
    `base` is a layer between the defaults and the file (e.g. the sections an earlier run used); `sets`
    are `--set KEY=VALUE` overrides (named so in error lines), applied after `overrides`."""
    tree = deep_merge(_read_yaml(DEFAULTS_FILE), base or {})
    origins: dict[str, tuple[int, str]] = {}  # dotted key → (layer rank, where its value came from)
    if file is not None:
        layer = _read_yaml(Path(file))
        origins.update({k: (1, str(file)) for k in _leaves(layer)})
        tree = deep_merge(tree, layer)
    tree = deep_merge(tree, _env_layer(dict(os.environ if environ is None else environ), origins))
    for dotted, value in (overrides or {}).items():
        if value is not None:
            set_dotted(tree, dotted, value)
            for k in [k for k in origins if k == dotted or k.startswith(dotted + ".")]:
                del origins[k]  # a flag's value: its source is the command line, not the file
    for dotted, value in (sets or {}).items():
        set_dotted(tree, dotted, value)
        origins.update({k: (3, f"--set {dotted}") for k in _leaves({dotted: value})})
    try:
        cfg = Config.model_validate(tree)
    except ValidationError as e:
        raise ConfigError(first_error(e, "", origins)) from None
    cfg._origins = origins
    return cfg


class KeyedValueError(ValueError):
    """A model validator's error about named keys (relative to the model, e.g. "layout.contrast_fail"):
    the error line names the one whose value a config layer set last (the first when none did)."""

    def __init__(self, message: str, keys: tuple[str, ...]):
        super().__init__(message)
        self.keys = keys


def _origin(dotted: str, origins: dict[str, tuple[int, str]]) -> tuple[int, str] | None:
    """Where the value of `dotted` came from: its own entry or the nearest section set as a whole."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in origins:
            return origins[".".join(parts[:n])]
    return None


def first_error(e: ValidationError, section: str, origins: dict[str, tuple[int, str]] | None = None) -> str:
    """`config SECTION.KEY: message` for the first problem pydantic found, led by where the bad value came
    from when `origins` knows it (`night.yaml: config …`, `ECOMCTL__QA__…: config …`, `--set KEY: config …`)."""
    first = e.errors()[0]
    loc = [section, *(str(p) for p in first["loc"])]
    err = (first.get("ctx") or {}).get("error")
    candidates = [".".join([*loc, k]).strip(".") for k in err.keys] if isinstance(err, KeyedValueError) else []
    where = ".".join(loc).strip(".")
    src = None
    if origins:
        known = [(o, k) for k in candidates or [where] if (o := _origin(k, origins))]
        if known:
            (_, src), where = max(known, key=lambda ok: ok[0][0])  # the highest layer; the first on a tie
    if candidates and src is None:
        where = candidates[0]
    msg = first["msg"].removeprefix("Value error, ")
    return f"{src + ': ' if src else ''}config {where}: {msg}"


def validate_section(model: type[M], data: dict[str, Any] | None, section: str,
                     origins: dict[str, tuple[int, str]] | None = None) -> M:
    """A stage-owned section (qa, ocr, backends.NAME …) validated by that stage's pydantic model;
    `origins` (a resolved Config's) lets the error line name the file, variable or flag of the bad value."""
    try:
        return model.model_validate(data or {})
    except ValidationError as e:
        raise ConfigError(first_error(e, section, origins)) from None


def check_keys(section: str, values: dict[str, Any], known: set[str]) -> None:
    """Refuse unknown keys in a section whose settings are a plain dataclass."""
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"config {section}: unknown key(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(known))})")

