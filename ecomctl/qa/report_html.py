"""report.html: one self-contained page (inline CSS/JS/SVG, JPEG thumbnails as data URIs), failures first.

What a reader sees first is what is safe to publish (pass), what to look at (warn) and what not to publish
(fail, error), then which checks to look at; each row says in words why it is not a pass. The design metrics
(the poster-layout literature's, informational) are summarised once against the published real-poster
figures and their per-row columns are collapsed, so they do not crowd the verdict columns."""

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
from ecomctl.qa.report import ReportSpool, campaigns, header, label, summarize
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


# The design metrics: the layout checks of the poster-layout literature (measured, never a verdict).
DESIGN = tuple(s.name for s in registry.CHECKS if s.measure == "layout_metrics")
# What the designers' own posters score, as published (docs/layout-metrics.md): PosterO (CVPR 2025), its
# evaluation code's reference values, on PKU PosterLayout and on CGL. Only these are published; Val, Ove,
# Ali and Rea have no published real-poster figure and show none.
REAL_POSTERS = {"layout.und_l": (1.0, 1.0), "layout.und_s": (1.0, 1.0), "layout.uti": (0.2253, 0.1989),
                "layout.occ": (0.1236, 0.1340)}


def limit_words(limits: QAThresholds) -> dict[str, str]:
    """Per check with `qa:` config limits, its bands in words ("warns below 4.5, fails below 3"), once per page
    (a fixed band, such as copy past the canvas edge failing, is the reason's own words)."""
    out = {}
    for s in registry.CHECKS:
        if not isinstance(s.warn, registry.Limit) and not isinstance(s.fail, registry.Limit):
            continue
        warn, fail = s.limits(limits)
        side = "below" if s.higher_is_better else "above"
        bands = [f"warns {side} {fmt(float(warn))}"] if isinstance(s.warn, registry.Limit) else []
        bands += [f"fails {side} {fmt(float(fail))}"] if isinstance(s.fail, registry.Limit) else []
        out[s.name] = ", ".join(bands)
    return out


def verdict(summary: dict[str, Any]) -> dict[str, Any]:
    """What the page opens with: how many items are safe to publish, to look at, not to publish, and the checks
    behind the last two (most failures first), from the summary's counts (nothing per row)."""
    st = summary["status"]
    look = [{"name": name, "label": label(name), "fail": m["fail"], "warn": m["warn"]}
            for name, m in summary["metrics"].items() if m["fail"] or m["warn"]]
    look.sort(key=lambda c: (-c["fail"], -c["warn"], c["name"]))
    return {"publish": st.get("pass", 0), "look": st.get("warn", 0),
            "block": st.get("fail", 0) + st.get("error", 0), "look_at": look}


def design_summary(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The design metrics of this run (mean, min, max) beside the published real-poster figures."""
    out = []
    for name in DESIGN:
        m = summary["metrics"].get(name)
        if m is None:
            continue
        better = "↑" if registry.spec(name).higher_is_better else "↓"
        out.append({"name": name, "label": label(name), "better": better, "mean": m["mean"], "min": m["min"],
                    "max": m["max"], "real": REAL_POSTERS.get(name)})
    return out


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
    present = registry.columns(summary["metrics"])  # every check still shows in the reasons and the summary
    for m in summary["metrics"].values():
        m["hist"] = histogram(m.pop("values"))
    shown = yaml.safe_dump({"qa": limits.model_dump(exclude={"report"})}, sort_keys=False, allow_unicode=True)
    words = limit_words(limits)
    rows = _page_rows(chain(problems, islice(passes, n_passes)), out_dir, settings, words)
    checks = [n for n in summary["metrics"] if n not in DESIGN]
    return {"rows": rows, "shown": n_problems + n_passes, "hidden": summary["items"] - n_problems - n_passes,
            "summary": summary, "columns": [c for c in present if c not in DESIGN],
            "design_columns": [c for c in present if c in DESIGN], "thresholds": shown,
            "verdict": verdict(summary), "design": design_summary(summary),
            "flagged": [n for n in checks if summary["metrics"][n]["fail"] or summary["metrics"][n]["warn"]],
            "clean": [n for n in checks if not (summary["metrics"][n]["fail"] or summary["metrics"][n]["warn"])],
            "campaigns": _campaign_thumbs(found, out_dir, settings), **header(out_dir)}


def _page_rows(rows: Iterable[dict[str, Any]], out_dir: Path, settings: Any,
               words: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
    for i, row in enumerate(rows):
        row = dict(row)
        wanted = i < settings.max_thumbs  # failures come first, so they keep theirs
        px, quality = settings.thumb_px, settings.thumb_quality
        row["thumb"] = row_thumbnail(row, out_dir, px, quality) if wanted else None
        row["check_status"] = {c["name"]: c["status"] for c in row["checks"]}
        row["why"] = why(row, words or {})
        yield row


def why(row: dict[str, Any], words: dict[str, str]) -> list[dict[str, Any]]:
    """Why a row is not a plain pass, one entry per cause: the render error, then each check that warned or
    failed (worst first) with its name in words, its figure, its reason and its limits."""
    out = [{"status": "error", "name": "error", "label": "error", "value": None, "reason": row["error"],
            "limits": ""}] if row.get("error") else []
    bad = [c for c in row["checks"] if c["status"] != "pass"]
    bad.sort(key=lambda c: c["status"] != "fail")  # stable: table order within fails, then warns
    out += [{"status": c["status"], "name": c["name"], "label": label(c["name"]), "value": c["value"],
             "reason": c["reason"], "limits": words.get(c["name"], "")} for c in bad]
    if not out:  # rows without their checks (none here today): the reasons as they are
        out = [{"status": row["status"], "name": "", "label": "", "value": None, "reason": r, "limits": ""}
               for r in row["reasons"]]
    return out


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
    compiled.globals.update(fmt=fmt, link=link, label=label)
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
