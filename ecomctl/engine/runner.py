"""Run a whole manifest: validate up front, render SKUs on the chosen executor, write run.yaml + reports."""

from __future__ import annotations

import contextlib
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from ecomctl import __version__
from ecomctl.config import Config
from ecomctl.engine import campaigns, executors
from ecomctl.engine.events import JsonLog, counts
from ecomctl.engine.item import RunContext
from ecomctl.errors import ConfigError, EcomctlError, Interrupted, RunFault
from ecomctl.io import usable_dir
from ecomctl.manifest import Manifest, load_run_manifest
from ecomctl.outcome import exit_code
from ecomctl.qa.report import ReportSpool
from ecomctl.render import get_backend
from ecomctl.store import OutputStore, atomic_write_text
from ecomctl.store.files import FAULTS, fault_error, fault_of, fault_remedy
from ecomctl.types import ItemResult

OnResult = Callable[[ItemResult], None]


@dataclass(frozen=True)
class RunSummary:
    manifest: Path
    out: Path
    results: tuple[ItemResult, ...]  # slim (qa/report.py `slim`): no QA details, only checks that did not pass
    seconds: float
    qa_summary: dict | None = None  # counts and per-metric figures over every poster (the terminal's table)
    notes: tuple[str, ...] = ()  # the manifest's warnings (a brand without a logo file)

    @property
    def exit_code(self) -> int:
        """0 when every poster passed (warnings allowed), 1 when any item failed QA or errored."""
        return exit_code(r.status for r in self.results)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def resumed(self) -> int:
        """Posters unchanged since an earlier run (verdict kept)."""
        return sum(r.resumed for r in self.results)

    @property
    def regraded(self) -> int:
        """Posters whose pixels were current but whose QA settings or code changed: graded again, not rendered."""
        return sum(r.regraded for r in self.results)

    @property
    def rejudged(self) -> int:
        """Of the re-graded: those whose stored measurements were judged again (only QA limits changed)."""
        return sum(r.rejudged for r in self.results)

    @property
    def replanned(self) -> int:
        """--replan: finished posters whose layout was planned again with this code and compared."""
        return sum(r.replanned for r in self.results)

    @property
    def layout_changed(self) -> int:
        """--replan: of those, the posters rendered again because the plan differed."""
        return sum(r.layout_changed for r in self.results)


def run_render(manifest_path: Path, cfg: Config, on_result: OnResult | None = None,
               force: bool = False, on_start: Callable[[int], None] | None = None,
               log_json: Path | None = None, verify: bool = False, sheet: str | None = None,
               columns: str | None = None, replan: bool = False) -> RunSummary:
    """Render every SKU of the manifest into cfg.run.out; never raises for a single SKU's failure.

    `on_start(posters)` is called once the work is known; `on_result` once per finished item. With
    `log_json`, run start, every poster and run end (or the error that stopped the run) are appended to
    that file as JSON lines. With `verify`, finished posters are hashed instead of trusted by their stat.
    `sheet`: the sheet of an Excel manifest (default: its first); `columns`: --columns (field=COLUMN,…).
    With `replan`, a finished poster's layout is planned again with this code and the poster rendered again
    only where the plan differs from its stored layout (engine/item.layout_changed)."""
    log = JsonLog(log_json) if log_json else None
    executors.prestart(cfg)
    try:
        with _run_faults():
            summary = _render(Path(manifest_path), cfg, on_result, force, on_start, log, verify, sheet,
                              columns, replan)
    except EcomctlError as e:
        _log_quietly(log, "run_error", error=str(e).splitlines()[0] if str(e) else type(e).__name__,
                     exit_code=e.exit_code)
        raise
    except BaseException as e:  # Ctrl-C / SIGTERM / a bug: the cron log still says the run did not finish
        _log_quietly(log, "run_error", error=f"{type(e).__name__}: {e}".rstrip(": "), exit_code=None)
        raise
    finally:
        executors.stop_fork_server()  # also when the run stopped before its pool (a bad manifest, ...)
        if log:
            with contextlib.suppress(OSError):
                log.close()
    return summary


@contextlib.contextmanager
def _run_faults() -> Iterator[None]:
    """A run fault in the main process's own writes (run.yaml, the lock file, a campaign reference or
    score, --log-json) is RunFault too: one line and exit 3, never a traceback."""
    try:
        yield
    except OSError as e:
        fault = fault_of(e)
        if fault is None:
            raise
        raise RunFault(f"run stopped: {fault}; {fault_remedy(fault)} and run the same command again "
                       "to resume") from None


def _log_quietly(log: JsonLog | None, event: str, **fields: object) -> None:
    """The run's last --log-json line, when the log can still take it (it may be on the disk that is full)."""
    if log:
        with contextlib.suppress(OSError):
            log.write(event, **fields)


def _render(manifest_path: Path, cfg: Config, on_result: OnResult | None, force: bool,
            on_start: Callable[[int], None] | None, log: JsonLog | None, verify: bool = False,
            sheet: str | None = None, columns: str | None = None, replan: bool = False) -> RunSummary:
    t0 = time.perf_counter()
    out = local_out(cfg.run.out)
    manifest, styles = load_run_manifest(manifest_path, cfg, sheet, columns)
    usable_dir(out, "output folder")  # a file, /dev/null, /proc, read-only: exit 2 before any SKU
    name = cfg.render.backend
    settings = cfg.backends.get(name, {})
    devices = executors.devices_of(cfg.render.device)
    backend = get_backend(name, settings, devices[0])  # fails fast (exit 2) if unusable
    from ecomctl import qa

    qa.preflight(cfg)  # bad qa: thresholds or a missing OCR engine: exit 2 before any SKU, not N error rows
    from ecomctl.subject import check_settings

    check_settings(cfg.section("subject"))  # e.g. subject.grounded-sam: a typo is exit 2, not N error rows
    ctx = RunContext(cfg, out, styles, name, settings, force, verify, replan)
    given = campaigns.given_references(cfg.render.campaign, cfg.render.campaigns)
    rows = campaigns.assign(list(manifest.rows), cfg.render.campaign)
    kind = executors.choose(cfg.run.executor, cfg.run.workers, devices, len(rows))
    executors.preflight(kind)
    if kind == "process":
        qa.prepare_reports()  # while the fork server loads: off the serial tail after the last poster
    store = OutputStore(out)
    with store.lock():
        described = backend.describe() | {"executor": kind}
        _write_run_yaml(store, manifest, cfg, described)
        posters = sum(r.variants for r in rows)
        if log:
            log.start(manifest=str(manifest.path.resolve()), out=str(out.resolve()), backend=name,
                      executor=kind, skus=len(rows), posters=posters, force=force,
                      **({"replan": True} if replan else {}),
                      **({"notes": list(manifest.notes)} if manifest.notes else {}))
        if on_start:
            on_start(posters)
        results = ReportSpool(out)  # each result's report row spooled as it comes, a slim copy kept: flat memory
        work = _fetch_then_render(kind, rows, ctx, given, campaigns.Scorer(out, cfg))
        try:
            for res in work:
                if res.fault:  # the disk, not this SKU: dispatch nothing more; the next run redoes this SKU
                    work.close()
                    raise _stopped(res.fault, out, rows, results, cfg, posters)
                results.append(res)
                if log:
                    log.item(res)
                if on_result:
                    on_result(res)
        except (KeyboardInterrupt, Interrupted) as e:
            work.close()  # the executor kills and reaps its workers before the lock is released
            _write_reports(out, rows, results, cfg)
            raise _aborted(e, out, len(results), posters) from None
        except OSError as e:  # a write of this process (a campaign's reference or score, --log-json)
            fault = fault_of(e)
            if fault is None:
                raise
            work.close()
            raise _stopped(fault, out, rows, results, cfg, posters) from None
        failed = _try_reports(out, rows, results, cfg)
        if failed:  # every poster is done; only the reports did not fit
            raise RunFault(_fault_line(failed[0], out, results, posters, failed[1]))
    summary = RunSummary(manifest.path, out, tuple(results), time.perf_counter() - t0,
                         qa_summary=results.report_summary(), notes=manifest.notes)
    results.close()
    if log:
        log.write("run_end", exit_code=summary.exit_code, seconds=round(summary.seconds, 3),
                  items=len(results), counts=counts(results), report=str(store.report_html.resolve()))
    return summary


def _fetch_then_render(kind: str, rows: list, ctx: RunContext, given: dict[str, Path],
                       scorer: campaigns.Scorer) -> Iterator[ItemResult]:
    """Photos by URL download ahead of rendering on a few threads of this process (photos.fetch_ahead): SKUs
    with a local photo are dispatched at once, a URL SKU as soon as its photo is in the cache, so a slow CDN
    does not idle the workers; a SKU whose photo could not be fetched is an error row and the rest render.
    Closing this closes the executor (it reaps its workers) and drops the downloads not started."""
    from ecomctl import photos

    feed = photos.fetch_ahead(rows, ctx.store, ctx.cfg.input)
    work = campaigns.run(kind, feed, ctx, given, scorer)
    try:
        yield from work
        yield from feed.results()  # error rows a campaign run left in the feed
    finally:
        work.close()
        feed.cancel()


def _write_reports(out: Path, rows: list, results: ReportSpool, cfg: Config) -> None:
    from ecomctl import qa

    order = {row.sku: i for i, row in enumerate(rows)}
    results.sort(key=lambda r: (order.get(r.sku, 0), r.variant or 0))
    qa.write_reports(out, results, cfg)


def _try_reports(out: Path, rows: list, results: list[ItemResult], cfg: Config) -> tuple[str, str] | None:
    """Write the reports. On a run fault: (its line, what was not written, e.g. "report.html not written,
    no space left on device"). Each report is a temp file renamed over the last one, so a report that did
    not fit leaves the previous one whole (and no temp file); the reports after it are not attempted."""
    try:
        _write_reports(out, rows, results, cfg)
    except OSError as e:
        err = fault_error(e)
        if err is None:
            raise
        name = Path(getattr(err, "ecomctl_writing", None) or "reports").name
        return fault_of(err) or "", f"{name} not written, {FAULTS[err.errno][0]}"
    return None


def _stopped(fault: str, out: Path, rows: list, results: list[ItemResult], cfg: Config,
             posters: int) -> RunFault:
    """The run hit `fault` and dispatches nothing more: report what finished (if it fits) and say so."""
    failed = _try_reports(out, rows, results, cfg)
    return RunFault(_fault_line(fault, out, results, posters, failed[1] if failed else None))


def _fault_line(fault: str, out: Path, results: list[ItemResult], posters: int,
                not_written: str | None) -> str:
    """One line: the cause, what finished and was kept, where it is reported, and how to resume."""
    kept = sum(1 for r in results if r.image is not None)
    where = f"reports incomplete: {not_written}" if not_written else f"report: {OutputStore(out).report_html}"
    return (f"run stopped: {fault}; {kept} of {posters} posters finished and kept ({where}); "
            f"{fault_remedy(fault)} and run the same command again to resume")


def _aborted(e: BaseException, out: Path, done: int, posters: int) -> Interrupted:
    """SIGINT/SIGTERM mid-run: what finished is in the report; the next run resumes from there."""
    signum = e.signum if isinstance(e, Interrupted) else signal.SIGINT
    return Interrupted(signum, f"{done} of {posters} posters finished, reported in {OutputStore(out).report_html}; "
                               "run the same command again to resume")


def local_out(out: Path) -> Path:
    """The output folder must be a filesystem path (on a cluster: shared storage mounted on every node);
    object-storage URIs are refused up front rather than written to a local folder named `s3:`."""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:/", str(out)):
        raise ConfigError(f"run.out {str(out)!r}: object-storage URIs are not supported; mount the bucket "
                          "(s3fs, gcsfuse, blobfuse2) on every node and give the mount path")
    return Path(out)


def _write_run_yaml(store: OutputStore, manifest: Manifest, cfg: Config, backend: dict) -> None:
    doc = {"ecomctl": __version__, "manifest": str(manifest.path.resolve()), "skus": len(manifest.rows),
           "backend": backend, "config": cfg.model_dump(mode="json")}
    atomic_write_text(store.run_yaml, yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
