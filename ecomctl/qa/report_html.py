"""report.html: one self-contained page (inline CSS/JS/SVG, JPEG thumbnails as data URIs), failures first."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, islice
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from jinja2 import Environment, PackageLoader, select_autoescape
from PIL import Image

from ecomctl.qa import registry
from ecomctl.qa.report import ReportSpool, campaigns, header, summarize
from ecomctl.qa.thresholds import QAThresholds
from ecomctl.store import OutputStore
from ecomctl.store.files import atomic_writer, thumbnail_jpeg
from ecomctl.store.posters import stored_thumbnail
from ecomctl.textsafe import neutralise
from ecomctl.types import ItemResult


def _visible(value: Any) -> Any:
    """Every value the template prints: control characters as visible escapes (HTML escaping leaves ESC,
    NUL, bidi overrides … as they are); newlines and tabs stay, HTML shows them as space."""
    if isinstance(value, str) and not hasattr(value, "__html__"):  # already-safe markup passes as is
        return neutralise(value, keep="\n\t")
    return value


_ENV = Environment(loader=PackageLoader("ecomctl.qa", "templates"), autoescape=select_autoescape(["html", "j2"]),
                   trim_blocks=True, lstrip_blocks=True, finalize=_visible)


def thumbnail(path: Path | None, px: int, quality: int) -> str | None:
    """A small JPEG as a data URI (None when the image cannot be read)."""
    if path is None:
        return None
    try:
        with Image.open(path) as im:
            data = thumbnail_jpeg(im, px, quality)
    except (OSError, ValueError):
        return None
    return _data_uri(data)


def poster_thumbnail(item: ItemResult, px: int, quality: int) -> str | None:
    """The thumbnail the worker stored with the poster (the same bytes `thumbnail` would make from the poster
    file, without decoding it again); made from the poster file when none fits (older runs, other settings)."""
    stored = stored_thumbnail(item.sidecar, px, quality) if item.sidecar is not None else None
    return _data_uri(stored) if stored is not None else thumbnail(item.image, px, quality)


def _data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def histogram(values: Sequence[float], bins: int = 12) -> dict[str, Any]:
    """Bar heights (0..1) and range labels for a small inline SVG distribution chart."""
    if not values:
        return {"bars": [], "lo": None, "hi": None}
    lo, hi = min(values), max(values)
    span = hi - lo
    if span == 0:  # one value: one full-width bar
        return {"bars": [1.0], "counts": [len(values)], "lo": lo, "hi": hi}
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / span * bins))] += 1
    top = max(counts)
    return {"bars": [c / top for c in counts], "counts": counts, "lo": lo, "hi": hi}


def link(path: str | None) -> str:
    """A relative href that can never read as a URL scheme (a SKU like `javascript:x`) and survives `#`, `?`."""
    if not path:
        return ""
    return quote(path, safe="/") if path.startswith(("/", "../")) else "./" + quote(path, safe="/")


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def page_context(all_rows: Sequence[dict[str, Any]], results: Sequence[ItemResult], out_dir: Path,
                 limits: QAThresholds) -> dict[str, Any]:
    """Template data from report rows in memory (`report_rows`), with the page's rows as a list. The rows
    carry what the page needs (thumbnails come from their sidecars); `results` is accepted for callers
    of the earlier signature. A run's report streams instead (`stream_context`)."""
    problems = [r for r in all_rows if r["status"] != "pass"]
    ctx = stream_context(summarize(all_rows), campaigns(all_rows), problems,
                         (r for r in all_rows if r["status"] == "pass"), out_dir, limits)
    ctx["rows"] = list(ctx["rows"])
    return ctx


def stream_context(summary: dict[str, Any], found: dict[str, Any], problems: Sequence[dict[str, Any]] | Any,
                   passes: Iterable[dict[str, Any]], out_dir: Path, limits: QAThresholds) -> dict[str, Any]:
    """Template data. The summary covers every item; the table lists every item that is not a plain pass
    (`problems`, in report order) and passing items up to `max_rows` in all, so a 100k-poster night still
    opens in a browser. `rows` is a generator: each row gets its thumbnail (the first `max_thumbs` rows)
    as the template reaches it, so the page is written without holding its rows or thumbnails at once."""
    settings = limits.report
    n_problems = summary["items"] - summary["status"].get("pass", 0)
    n_passes = min(summary["status"].get("pass", 0), max(0, settings.max_rows - n_problems))
    rows = _page_rows(chain(problems, islice(passes, n_passes)), out_dir, settings)
    present = registry.columns(summary["metrics"])  # every check still shows in the reasons and the summary
    for m in summary["metrics"].values():
        m["hist"] = histogram(m.pop("values"))
    shown = yaml.safe_dump({"qa": limits.model_dump(exclude={"report"})}, sort_keys=False, allow_unicode=True)
    return {"rows": rows, "shown": n_problems + n_passes, "hidden": summary["items"] - n_problems - n_passes,
            "summary": summary, "columns": present, "thresholds": shown,
            "campaigns": _campaign_thumbs(found, out_dir, settings), **header(out_dir)}


def _page_rows(rows: Iterable[dict[str, Any]], out_dir: Path, settings: Any) -> Iterator[dict[str, Any]]:
    for i, row in enumerate(rows):
        row = dict(row)
        wanted = i < settings.max_thumbs  # failures come first, so they keep theirs
        px, quality = settings.thumb_px, settings.thumb_quality
        row["thumb"] = row_thumbnail(row, out_dir, px, quality) if wanted else None
        row["check_status"] = {c["name"]: c["status"] for c in row["checks"]}
        yield row


def row_thumbnail(row: dict[str, Any], out_dir: Path, px: int, quality: int) -> str | None:
    """A report row's thumbnail: the one stored with its poster (see `poster_thumbnail`), else made from the
    poster file; its paths are relative to `out_dir`."""
    store = OutputStore(out_dir)
    sidecar = store.resolve(row["sidecar"]) if row.get("sidecar") else None
    stored = stored_thumbnail(sidecar, px, quality) if sidecar is not None else None
    if stored is not None:
        return _data_uri(stored)
    return thumbnail(store.resolve(row["image"]) if row.get("image") else None, px, quality)


def _campaign_thumbs(found: dict[str, Any], out_dir: Path, settings: Any) -> dict[str, Any]:
    store = OutputStore(out_dir)
    for c in found.values():
        c["thumb"] = thumbnail(store.resolve(c["reference"]), settings.thumb_px, settings.thumb_quality)
    return found


def render_html(rows: Sequence[dict[str, Any]], results: Sequence[ItemResult], out_dir: Path,
                limits: QAThresholds) -> str:
    return template().render(**page_context(rows, results, out_dir, limits))


def template() -> Any:
    """The compiled report template (jinja2 caches it in the environment: compiled once per process)."""
    compiled = _ENV.get_template("report.html.j2")
    compiled.globals.update(fmt=fmt, link=link)
    return compiled


def write_html(path: Path, spool: ReportSpool, limits: QAThresholds) -> None:
    """report.html from a run's spooled rows, streamed: the template's output goes to the file as made."""
    ctx = stream_context(spool.summary(), spool.tally.campaign_summary(), spool.rows(passed=False),
                         spool.rows(passed=True), spool.out_dir, limits)
    with atomic_writer(path) as f:
        text = io.TextIOWrapper(f, encoding="utf-8", newline="", write_through=False)
        for chunk in template().generate(**ctx):
            text.write(chunk)
        text.flush()
        text.detach()  # the atomic writer closes the file
