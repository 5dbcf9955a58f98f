"""Run-level faults stop the run cleanly: a full (over-quota, read-only, failing) output disk stops dispatch
at once, keeps what finished, writes the reports if they fit, says so in one line, exits 3, and the same
command resumes (issue 17)."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from ecomctl.config import load_config
from ecomctl.engine.runner import run_render
from ecomctl.errors import RenderError, RunFault
from ecomctl.store import OutputStore, atomic_write_text, file_digest
from ecomctl.store.files import fault_of, writing
from tests.conftest import make_product, write_manifest

LINE = re.compile(r"error: run stopped: no space left on device \(ENOSPC\) writing (?P<path>\S+); "
                  r"(?P<kept>\d+) of (?P<posters>\d+) posters finished and kept \((?P<where>[^)]*)\); "
                  r"free space and run the same command again to resume")


def _manifest(folder: Path, n: int) -> Path:
    rows = []
    for i in range(n):
        make_product(folder / f"p{i}.png", (300 + 7 * i, 400))  # distinct photos: a cache entry each
        rows.append({"sku": f"S{i:02d}", "image": f"p{i}.png", "title": f"Serum {i}", "size": "512x512",
                     "variants": "1"})
    return write_manifest(folder / "m.csv", rows)


def _cfg(out: Path, **over):
    return load_config(None, {"run.out": str(out), "qa.text.enabled": False, **over})


def _sku_folders(out: Path) -> set[str]:
    """The SKUs that wrote anything (each SKU's first write is into its folder or the subject cache)."""
    return {p.name for p in out.glob("S[0-9][0-9]") if p.is_dir() and any(p.iterdir())}


def _temp_files(out: Path) -> list[Path]:
    return [p for p in out.rglob(".*.tmp")]


def _intact(out: Path) -> dict[str, str]:
    """sku → poster sha256, after checking every poster against the digest its sidecar recorded."""
    store, found = OutputStore(out), {}
    for sidecar in store.sidecars():
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        files = store.of_sidecar(sidecar)
        digest = file_digest(files.image)
        assert digest == data["poster"]["sha256"] and files.image.stat().st_size == data["poster"]["bytes"]
        found[files.sku] = digest
    return found


# --- what is a run fault ------------------------------------------------------------------------------------

def test_fault_of_names_the_cause_and_the_file_and_sees_through_wrappers(tmp_path: Path):
    assert fault_of(OSError(errno.ENOSPC, "No space left on device")) == "no space left on device (ENOSPC)"
    assert fault_of(OSError(errno.EDQUOT, "Disk quota exceeded", "/o/a.png")) == \
        "disk quota exceeded (EDQUOT) at /o/a.png"
    assert fault_of(OSError(errno.EROFS, "Read-only file system")) == "read-only file system (EROFS)"
    with pytest.raises(OSError) as marked, writing(tmp_path / "a.png"):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert fault_of(marked.value) == f"no space left on device (ENOSPC) writing {tmp_path / 'a.png'}"
    # wrapped, as PIL, numpy or our own errors may: by `raise … from`, and by raising while handling one
    try:
        raise RenderError("scene failed") from marked.value
    except RenderError as e:
        assert fault_of(e) == f"no space left on device (ENOSPC) writing {tmp_path / 'a.png'}"
    try:
        try:
            raise OSError(errno.EROFS, "Read-only file system")
        except OSError:
            raise ValueError("encoder gave up")  # implicitly chained, as a library may
    except ValueError as e:
        assert fault_of(e) == "read-only file system (EROFS)"
    try:  # `from None` hides the cause, as in a traceback: not a fault
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise ValueError("bad photo") from None
    except ValueError as e:
        assert fault_of(e) is None
    # a read EIO is one bad input file (that SKU's error row); an EIO on a write is the disk failing
    assert fault_of(OSError(errno.EIO, "Input/output error", "/in/photo.jpg")) is None
    with pytest.raises(OSError) as eio, writing("/o/a.json"):
        raise OSError(errno.EIO, "Input/output error")
    assert fault_of(eio.value) == "input/output error (EIO) writing /o/a.json"
    for other in (OSError(errno.ENOENT, "No such file"), OSError(errno.EACCES, "Permission denied"),
                  ValueError("x"), None):
        assert fault_of(other) is None
    loop = OSError(errno.EPIPE, "pipe")
    loop.__context__ = ValueError("y")
    loop.__context__.__context__ = loop  # a cycle ends the walk
    assert fault_of(loop) is None


def test_the_atomic_writer_leaves_no_temp_file_and_names_the_target(tmp_path: Path, monkeypatch):
    target = tmp_path / "report.json"
    target.write_text("the last good report\n")
    real = os.fdopen

    class Full:
        def __init__(self, fd, mode):
            self.f = real(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[:10])  # part of it reached the disk, then the disk was full
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("ecomctl.store.files.os.fdopen", Full)
    with pytest.raises(OSError) as e:
        atomic_write_text(target, "a new report that does not fit\n")
    assert fault_of(e.value) == f"no space left on device (ENOSPC) writing {target}"
    assert target.read_text() == "the last good report\n" and _temp_files(tmp_path) == []


# --- injected write failures, serial path (in this process) ----------------------------------------------

def _fail_replace(monkeypatch, code: int, when) -> list[str]:
    """os.replace raises OSError(code) for targets `when(path)` accepts (the atomic writer's last step)."""
    real, hits = os.replace, []

    def replace(src, dst, *a, **k):
        if when(Path(dst)):
            hits.append(str(dst))
            raise OSError(code, os.strerror(code))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", replace)
    return hits


@pytest.mark.parametrize(("code", "what", "remedy"), [
    (errno.ENOSPC, "no space left on device (ENOSPC)", "free space"),
    (errno.EROFS, "read-only file system (EROFS)", "make the folder writable again"),
    (errno.EIO, "input/output error (EIO)", "check the disk (dmesg)"),
], ids=["ENOSPC", "EROFS", "EIO"])
def test_a_write_fault_stops_a_serial_run_and_it_resumes(code, what, remedy, tmp_path: Path, monkeypatch):
    manifest, out, log = _manifest(tmp_path, 6), tmp_path / "out", tmp_path / "log.jsonl"
    hits = _fail_replace(monkeypatch, code, lambda p: p.name == "S02-v1.png")
    seen = []
    with pytest.raises(RunFault) as e:
        run_render(manifest, _cfg(out), on_result=seen.append, log_json=log)
    message = str(e.value)
    assert e.value.exit_code == 3 and "\n" not in message
    assert message == (f"run stopped: {what} writing {out / 'S02' / 'S02-v1.png'}; 2 of 6 posters finished "
                       f"and kept (report: {out / 'report.html'}); {remedy} and run the same command again "
                       "to resume")
    assert hits == [str(out / "S02" / "S02-v1.png")]  # tried once: nothing after the fault was dispatched
    assert [r.sku for r in seen] == ["S00", "S01"] and all(r.status == "pass" for r in seen)
    assert _sku_folders(out) == {"S00", "S01", "S02"}  # S03..S05 never started
    assert not (out / "logs").exists() and _temp_files(out) == []  # no log for a disk fault, no temp file
    reported = json.loads((out / "report.json").read_text())["items"]
    assert [r["sku"] for r in reported] == ["S00", "S01"]  # the faulted SKU is no error row
    events = [json.loads(x) for x in log.read_text().splitlines()]
    assert [x["event"] for x in events] == ["run_start", "item", "item", "run_error"]
    assert events[-1]["exit_code"] == 3 and events[-1]["error"] == message
    kept = _intact(out)
    monkeypatch.undo()
    again = run_render(manifest, _cfg(out))
    assert again.exit_code == 0 and len(again.results) == 6
    assert sorted(r.sku for r in again.results if r.resumed) == ["S00", "S01"]
    assert {k: v for k, v in _intact(out).items() if k in kept} == kept


def test_reports_that_do_not_fit_are_named_and_the_last_good_ones_stay(tmp_path: Path, monkeypatch):
    manifest, out = _manifest(tmp_path, 3), tmp_path / "out"
    assert run_render(manifest, _cfg(out)).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.glob("report.*")}
    _fail_replace(monkeypatch, errno.ENOSPC, lambda p: p.name == "report.html")
    with pytest.raises(RunFault) as e:
        run_render(manifest, _cfg(out), force=True)
    assert str(e.value) == (f"run stopped: no space left on device (ENOSPC) writing {out / 'report.html'}; "
                            "3 of 3 posters finished and kept (reports incomplete: report.html not written, "
                            "no space left on device); free space and run the same command again to resume")
    assert (out / "report.html").read_bytes() == before["report.html"] and _temp_files(out) == []


def test_a_fault_in_the_main_process_is_one_line_too(tmp_path: Path, monkeypatch):
    """run.yaml is the main process's own write: the same RunFault, before any SKU."""
    manifest, out = _manifest(tmp_path, 2), tmp_path / "out"
    _fail_replace(monkeypatch, errno.EDQUOT, lambda p: p.name == "run.yaml")
    with pytest.raises(RunFault) as e:
        run_render(manifest, _cfg(out))
    assert str(e.value) == (f"run stopped: disk quota exceeded (EDQUOT) writing {out / 'run.yaml'}; "
                            "free space or raise the quota and run the same command again to resume")
    assert _sku_folders(out) == set()


def test_qa_on_a_full_disk_is_one_line_and_exit_3(tmp_path: Path, monkeypatch):
    """`ecomctl qa OUT` rewrites reports: a run fault there is the guard's one line, exit 3."""
    from typer.testing import CliRunner

    from ecomctl.cli import app

    manifest, out = _manifest(tmp_path, 1), tmp_path / "out"
    assert run_render(manifest, _cfg(out)).exit_code == 0
    _fail_replace(monkeypatch, errno.ENOSPC, lambda p: p.name == "report.json")
    res = CliRunner().invoke(app, ["qa", str(out), "--quiet", "--set", "qa.text.enabled=false"])
    assert res.exit_code == 3, res.output
    line = (f"error: stopped: no space left on device (ENOSPC) writing {out / 'report.json'}; "
            "free space and run the same command again")
    assert res.output.splitlines() == [line]


# --- a real full disk (tmpfs), through the CLI, pool and serial ---------------------------------------------

@pytest.fixture
def small_disk(tmp_path: Path, request):
    """A small tmpfs (6 MiB: about 9 of these SKUs fit; or `indirect` size); skipped where mounting is not
    allowed, unmounted afterwards."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root on Linux (CI runs as root)")
    disk = tmp_path / "disk"
    disk.mkdir()
    size = getattr(request, "param", "6m")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)], check=False,
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.slow
@pytest.mark.parametrize("extra", [("-j", "2"), ("-j", "1", "--quiet")], ids=["pool", "serial-quiet"])
def test_a_full_disk_stops_the_run_and_a_bigger_one_resumes_it(extra, small_disk: Path, tmp_path: Path):
    n = 20
    manifest, out, log = _manifest(tmp_path, n), small_disk / "out", tmp_path / "log.jsonl"
    config = tmp_path / "fast.yaml"
    config.write_text("qa:\n  text:\n    enabled: false\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "ecomctl", "render", str(manifest), "-c", str(config), *extra]
    t0 = time.monotonic()
    run = subprocess.run([*cmd, "-o", str(out), "--log-json", str(log)], check=False, capture_output=True,
                         text=True, cwd=tmp_path, timeout=300)
    seconds = time.monotonic() - t0
    assert run.returncode == 3, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    lines = run.stderr.splitlines()
    match = LINE.fullmatch(lines[0]) if len(lines) == 1 else None
    assert match, run.stderr
    kept, where = int(match["kept"]), match["where"]
    assert match["posters"] == str(n) and 1 <= kept < n and Path(match["path"]).is_relative_to(out)
    assert where == f"report: {out / 'report.html'}" or where.startswith("reports incomplete: "), where
    events = [json.loads(x) for x in log.read_text().splitlines()]
    items = [x for x in events if x["event"] == "item"]
    assert len(items) == kept and all(x["status"] == "pass" for x in items)  # no error row for any SKU
    assert events[-1]["event"] == "run_error" and events[-1]["exit_code"] == 3
    # dispatch stopped at once: only the SKUs in flight when the disk filled (one per worker) were started
    # beyond those kept, and the run ended within seconds of its last poster
    workers = int(extra[1])
    started = _sku_folders(out)
    assert len(started) <= kept + workers and f"S{n - 1:02d}" not in started, sorted(started)
    stamp = [datetime.fromisoformat(x["time"]).timestamp() for x in (items[-1], events[-1])]
    assert stamp[1] - stamp[0] < 5, stamp
    if workers == 1:
        assert _temp_files(out) == []  # every failed write removed its temp file
    if "--quiet" in extra:
        assert run.stdout == ""
    # move the folder to a larger disk: the same command resumes, every poster intact
    bigger = tmp_path / "bigger"
    shutil.copytree(out, bigger, symlinks=True)
    finished = _intact(bigger)
    assert len(finished) >= kept
    again = subprocess.run([*cmd, "-o", str(bigger)], check=False, capture_output=True, text=True,
                           cwd=tmp_path, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    done = _intact(bigger)
    assert sorted(done) == [f"S{i:02d}" for i in range(n)]
    assert {k: done[k] for k in finished} == finished  # the posters of the full disk resumed unchanged
    report = json.loads((bigger / "report.json").read_text())["items"]
    assert len(report) == n and sum(r["resumed"] for r in report) == len(finished), seconds


@pytest.mark.slow
@pytest.mark.parametrize("small_disk", ["400k"], indirect=True)
def test_dataset_build_on_a_full_disk_stops_its_pool(small_disk: Path, tmp_path: Path):
    """`ecomctl dataset build -j 2` into a disk that fills: one line, exit 3, and it stops at the first item
    that hit the fault (before, every item became an error record and the corpus files failed at the end)."""
    manifest, source = _manifest(tmp_path, 12), tmp_path / "rendered"
    assert run_render(manifest, _cfg(source)).exit_code == 0
    corpus = small_disk / "corpus"
    run = subprocess.run([sys.executable, "-m", "ecomctl", "dataset", "build", str(source), "-o", str(corpus),
                          "-j", "2"], check=False, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 3 and "Traceback" not in run.stdout + run.stderr, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and re.fullmatch(r"error: stopped: no space left on device \(ENOSPC\) writing "
                                            rf"{re.escape(str(corpus))}/\S+; free space and run the same "
                                            r"command again", lines[0]), run.stderr
    assert "samples.parquet" not in lines[0] and not (corpus / "stats.json").exists()  # stopped at the items
    assert _temp_files(corpus) == [] and list(corpus.rglob("*.tmp")) == []


def test_a_corpus_parquet_that_does_not_fit_leaves_no_temp_file(tmp_path: Path, monkeypatch):
    from ecomctl.dataset import corpus

    def full(table, where, **kw):
        Path(where).write_bytes(b"PAR1 partial")
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr(corpus.pq, "write_table", full)
    with pytest.raises(OSError) as e:
        corpus.write_samples(tmp_path, [])
    assert fault_of(e.value) == f"no space left on device (ENOSPC) writing {tmp_path / corpus.SAMPLES}"
    assert list(tmp_path.iterdir()) == []
