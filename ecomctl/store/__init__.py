"""Write stage: the output folder OUT — the only code that builds a path inside it.

Layout (names are built here and nowhere else):

    OUT/<sku>/<sku>-v<k>.png            poster                 OUT/<sku>/<sku>.mask.png   product mask (photo coords)
    OUT/<sku>/<sku>-v<k>.json           sidecar (store.sidecar) OUT/<sku>/<sku>-v<k>.subject.png  mask on the canvas
    OUT/<sku>/<sku>-v<k>.cutout.png     placed product (RGBA, cropped to its box; QA's expected pixels)
    OUT/<sku>/<sku>-v<k>.under.png      scene under the product (same box; QA's soft-edge composite)
    OUT/<sku>/<sku>-v<k>.bg.png         whole clean background, with --keep-layers (dataset style image)
    OUT/<sku>/<sku>-v<k>.thumb.jpg      report.html's thumbnail, made from the poster in memory at write time
    OUT/logs/<sku>.log                  full traceback of a SKU that failed
    OUT/.cache/subjects/<key>.npz       extraction results by photo digest + settings (subject/cache.py)
    OUT/.cache/photos/<url key>.<ext>   a photo given by URL, as last downloaded (photos.py); + .json: its URL,
                                        ETag and Last-Modified, for the next night's conditional request
    OUT/.cache/ (unnamed temp files)    a large run's report rows until the reports are written (qa/report.py)
    OUT/.cache/report.key               content key of the last reports written whole (qa/__init__.py)
    OUT/campaigns/<name>.png            a campaign's reference style (engine/campaigns.py)
    OUT/report.html|json|csv, OUT/run.yaml, OUT/.ecomctl.lock
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ecomctl.store.files import (
    atomic_save_image,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    file_digest,
    output_lock,
)

__all__ = [
    "RESERVED_NAMES",
    "OutputStore",
    "PosterFiles",
    "atomic_save_image",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "campaign_reference_name",
    "file_digest",
    "output_lock",
]

LOGS = "logs"
RUN_YAML = "run.yaml"
REPORTS = ("report.html", "report.json", "report.csv")
LOCK = ".ecomctl.lock"
CAMPAIGNS = "campaigns"
CACHE = ".cache"
RESERVED_NAMES = frozenset({LOGS, RUN_YAML, LOCK, CAMPAIGNS, CACHE, *REPORTS})  # never a SKU folder name
_SIDECAR = re.compile(r"^(?P<sku>.+)-v(?P<variant>[1-9]\d*)\.json$")


def campaign_reference_name(name: str) -> str:
    """OUT-relative name of campaign `name`'s reference image, as the reports give it."""
    return f"{CAMPAIGNS}/{name}.png"


@dataclass(frozen=True)
class PosterFiles:
    """Every file of one poster variant (absolute paths) and the names its sidecar records."""

    folder: Path
    sku: str
    variant: int

    def _name(self, tail: str) -> str:
        return f"{self.sku}-v{self.variant}{tail}"

    @property
    def image(self) -> Path:
        return self.folder / self._name(".png")

    @property
    def sidecar(self) -> Path:
        return self.folder / self._name(".json")

    @property
    def names(self) -> dict[str, str]:
        """Layer names as stored in the sidecar's `files` (relative to the SKU folder)."""
        return {"mask": f"{self.sku}.mask.png", "subject": self._name(".subject.png"),
                "cutout": self._name(".cutout.png"), "under": self._name(".under.png"),
                "background": self._name(".bg.png"), "thumb": self._name(".thumb.jpg"),
                "logo": self._name(".logo.png")}

    def layer(self, name: str) -> Path:
        """A layer file named in the sidecar's `files` (names are checked to be plain file names)."""
        return self.folder / name


@dataclass(frozen=True)
class OutputStore:
    """One output folder: names, discovery, logs and report paths."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    def sku_folder(self, sku: str) -> Path:
        return self.root / sku

    def poster(self, sku: str, variant: int) -> PosterFiles:
        return PosterFiles(self.sku_folder(sku), sku, variant)

    def of_sidecar(self, sidecar: Path) -> PosterFiles:
        """The poster files a sidecar path belongs to (sku and variant from its name)."""
        m = _SIDECAR.match(Path(sidecar).name)
        sku, variant = (m["sku"], int(m["variant"])) if m else (Path(sidecar).parent.name, 0)
        return PosterFiles(Path(sidecar).parent, sku, variant)

    @property
    def subject_cache(self) -> Path:
        return self.root / CACHE / "subjects"

    @property
    def photo_cache(self) -> Path:
        return self.root / CACHE / "photos"

    def photo(self, url: str) -> Path:
        """Where the photo at `url` is kept: named by the URL's hash (same URL, same file, any night), with
        the URL's image suffix when it has one (for whoever opens the folder; readers sniff the bytes)."""
        suffix = Path(url.split("?", 1)[0].split("#", 1)[0]).suffix.lower()
        suffix = suffix if re.fullmatch(r"\.(png|jpe?g|webp|bmp|tiff?|gif)", suffix) else ".img"
        return self.photo_cache / (hashlib.sha256(url.encode()).hexdigest()[:32] + suffix)

    def photo_validators(self, url: str) -> Path:
        """The cached photo's URL, ETag and Last-Modified (JSON), beside it."""
        return self.photo(url).with_suffix(".json")

    @property
    def report_spool(self) -> Path:
        """Where a large run's report rows wait for the report writers (unnamed temporary files: nothing
        is left behind, whatever ends the run; qa/report.py ReportSpool)."""
        return self.root / CACHE

    @property
    def report_key(self) -> Path:
        """The content key of the reports last written whole (qa/__init__.py write_reports): a night whose
        reports would be the same keeps them instead of rewriting them."""
        return self.root / CACHE / "report.key"

    def source_mask(self, sku: str) -> Path:
        return self.sku_folder(sku) / f"{sku}.mask.png"

    @property
    def run_yaml(self) -> Path:
        return self.root / RUN_YAML

    @property
    def report_html(self) -> Path:
        return self.root / "report.html"

    @property
    def report_json(self) -> Path:
        return self.root / "report.json"

    @property
    def report_csv(self) -> Path:
        return self.root / "report.csv"

    def lock(self):
        return output_lock(self.root)

    # discovery ---------------------------------------------------------------------------------------
    def sidecars(self) -> list[Path]:
        """Every poster sidecar `OUT/<sku>/<sku>-v<k>.json` by name, in SKU then variant order; whether
        it is readable is for the reader to say (a garbage sidecar is an error row, never dropped)."""
        found = []
        for path in self.root.glob("*/*.json"):
            m = _SIDECAR.match(path.name)
            if m and m["sku"] == path.parent.name and path.is_file():
                found.append((m["sku"], int(m["variant"]), path))
        return [p for _, _, p in sorted(found)]

    def looks_like_output(self) -> bool:
        """True for a folder `ecomctl render` wrote (its run.yaml or at least one poster sidecar)."""
        return self.run_yaml.is_file() or bool(self.sidecars())

    def campaign_reference(self, name: str) -> Path:
        """The reference image every SKU of campaign `name` is rendered and scored against."""
        return self.root / campaign_reference_name(name)

    def resolve(self, name: str) -> Path:
        """The file an OUT-relative name from a report row stands for (its `image`, `sidecar`, a campaign's
        `reference`)."""
        return self.root / name

    # logs --------------------------------------------------------------------------------------------
    def log_path(self, sku: str) -> Path:
        return self.root / LOGS / f"{sku}.log"

    def write_log(self, sku: str, text: str) -> Path:
        path = self.log_path(sku)
        atomic_write_text(path, text if text.endswith("\n") else text + "\n")
        return path

    def clear_log(self, sku: str) -> None:
        self.log_path(sku).unlink(missing_ok=True)
