"""Soak benchmark: one long `ecomctl render` of transparent packshots with QA on, what its nights cost, and the
report of a 100,000-poster run.

What it runs (every figure from this one invocation, each ratio between runs of this invocation):

1. **The soak.** A manifest of `--posters` posters (half as many SKUs × 2 variants) of the four RGBA packshots in
   `manifests/assets/`, every row's copy distinct (as `benchmarks/manifests/packshots240-alpha.csv`, so OCR
   reads are not repeats), rendered by `ecomctl render MANIFEST --out OUT -j WORKERS --log-json EVENTS --quiet`
   (default settings: OCR text QA on). Every `--interval` seconds the RSS and CPU time of the main process and
   of every process below it (fork server, pool workers, manager) are sampled with psutil, with the poster
   count at that moment (the `item` lines of the events file). Reported: each process's peak RSS up to poster
   `--mark` (500) and to the end and the difference (must be ≤ +50 MB), the RSS slope after the mark (MB per
   1,000 posters), posters/s in the first and the last tenth of the posters (from the events' times; must be
   within 15 %), posters/s overall (wall clock of the command) and CPU-s per poster (user + system of the
   command and every process it waited for, from wait4).
2. **The nights.** The same command again with nothing changed (the no-op night), and after changing the copy
   of 1 % of the rows (the 1 %-changed night); a folder of `--small` posters rendered and re-run unchanged in
   the same invocation, interleaved, gives the start-up to subtract. Each is timed `--repeat` times (best).
3. **The projection** to `--project` (100,000) posters: linear in the measured per-poster costs (below).
4. **The report of 100,000 posters.** `--report-items` results cloned from the soak's own sidecars (each clone
   a distinct SKU pointing at a real poster, sidecar and stored thumbnail) are fed one by one to the report
   writer the way a run feeds it, then report.json/csv/html are written; time and peak RSS (in a fresh process
   each), for this tree and for `--baseline` (an earlier commit's `ecomctl/`, extracted with `git archive`).

    .venv/bin/python benchmarks/bench_soak.py                       # the full soak: 5,000 posters
    .venv/bin/python benchmarks/bench_soak.py --posters 400 --report-items 20000 --out-json /tmp/soak.json

Writes `benchmarks/results/soak_cpu.json` (or `--out-json`) and prints it. Exit 1 when a limit of issue 17 is
missed (memory growth, throughput drift) or a run did not do what it should (a no-op night that rendered).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "soak_cpu.json"
ASSETS = ROOT / "manifests" / "assets"
GROWTH_LIMIT_MB = 50.0
DRIFT_LIMIT = 0.15

# the copy of packshots240-alpha.csv: (title, subtitle, badge, subject) per photo and language; {n} makes it distinct
_COPY = {
    "571507774301": (("臻颜修护面霜 24小时锁水 {n}", "Intensive repair cream · 50 ml · No.{n}", "新品上市"),
                     ("Hydra Repair Cream {n}", "24-hour moisture lock for dry skin · No.{n}", "NEW"), "cream jar"),
    "652158680541": (("有机婴幼儿配方奶粉 {n}", "Infant formula with HMO · Stage 3 · No.{n}", "热销"),
                     ("Organic Infant Formula {n}", "Gentle on tiny tummies · No.{n}", "HOT"), "milk powder can"),
    "749870344644": (("蜡笔小新 防摔手机壳 {n}", "Drop-proof case for iPhone 15 Pro · No.{n}", "2件8折"),
                     ("Drop-Proof Phone Case {n}", "Military-grade protection · No.{n}", "SALE"), "phone case"),
    "809702153676": (("持妆气垫 轻透遮瑕 {n}", "Long-wear cushion foundation SPF50+ · No.{n}", "限定"),
                     ("Cushion Foundation {n}", "Light coverage · 12 h wear · No.{n}", ""), "cushion compact"),
}
FIELDS = ["sku", "image", "title", "subtitle", "price", "badge", "subject", "size", "variants", "lang"]


# ---------------------------------------------------------------------------------------------- the manifest


def manifest_rows(skus: int) -> list[dict[str, str]]:
    """`skus` rows of 2 variants, cycling the four packshots; zh and en copy alternate in blocks of four as in
    packshots240-alpha.csv; the number in every title and subtitle makes each row's copy distinct."""
    photos = sorted(_COPY)
    rows = []
    for i in range(skus):
        n = i + 1
        photo = photos[i % 4]
        zh, en, subject = _COPY[photo]
        lang = "zh" if (i // 4) % 2 == 0 else "en"
        title, subtitle, badge = zh if lang == "zh" else en
        rows.append({"sku": f"SK-{n:06d}", "image": str(ASSETS / f"{photo}.png"), "title": title.format(n=f"{n:03d}"),
                     "subtitle": subtitle.format(n=n), "price": f"¥{100 + 7 * (i % 900)}", "badge": badge,
                     "subject": subject, "size": "1024x1024", "variants": "2", "lang": lang})
    return rows


def write_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    return path


def changed_copy(rows: list[dict[str, str]], share: float) -> tuple[list[dict[str, str]], int]:
    """The rows with the title of every (1/share)-th row edited (at least one): what a 1 % catalog update does."""
    step = max(1, round(1 / share))
    out, changed = [], 0
    for i, row in enumerate(rows):
        if i % step == step // 2:
            row = dict(row, title=row["title"] + " · new")
            changed += 1
        out.append(row)
    if not changed:  # fewer rows than 1/share: one row still changes
        out[len(out) // 2] = dict(out[len(out) // 2], title=out[len(out) // 2]["title"] + " · new")
        changed = 1
    return out, changed


# ------------------------------------------------------------------------------------------- running render


class Sampler(threading.Thread):
    """Every `interval` s: RSS and CPU-s of `pid` and every process below it, and the posters finished so far
    (the `item` lines of the events file)."""

    def __init__(self, pid: int, events: Path, interval: float):
        super().__init__(daemon=True)
        import psutil

        self.psutil = psutil
        self.root = psutil.Process(pid)
        self.events, self.interval = events, interval
        self.samples: list[dict[str, Any]] = []
        self.procs: dict[int, dict[str, Any]] = {}  # pid → ppid, first seen, cmdline tail
        self.item_times: list[float] = []  # epoch seconds of each `item` line, in order
        self._offset, self._partial = 0, b""
        self._halt = threading.Event()
        self.t0 = time.time()

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self._read_events()

    def _read_events(self) -> None:
        try:
            with self.events.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            if b'"event": "item"' in line:
                ev = json.loads(line)
                if ev.get("variant") is not None:
                    self.item_times.append(datetime.fromisoformat(ev["time"]).timestamp())

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def sample(self) -> None:
        ps = self.psutil
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except ps.Error:
            return
        rss, cpu = {}, {}
        for p in procs:
            try:
                with p.oneshot():
                    rss[p.pid] = p.memory_info().rss
                    t = p.cpu_times()
                    cpu[p.pid] = t.user + t.system
                    if p.pid not in self.procs:
                        cmd = " ".join(p.cmdline())
                        kind = next((k for k in ("forkserver", "resource_tracker") if k in cmd), None)
                        self.procs[p.pid] = {"ppid": p.ppid(), "first_s": round(time.time() - self.t0, 1),
                                             "kind": kind}
            except ps.Error:
                continue
        self._read_events()
        self.samples.append({"t": round(time.time() - self.t0, 2), "posters": len(self.item_times),
                             "rss": rss, "cpu": cpu})


def command(code: Path, manifest: Path, out: Path, workers: int, events: Path | None) -> list[str]:
    cmd = [sys.executable, "-c", "from ecomctl.cli import main; main()", "render", str(manifest), "--out", str(out),
           "-j", str(workers), "--quiet"]
    return cmd + (["--log-json", str(events)] if events else [])


def env_for(code: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(code), PYTHONHASHSEED="0", NO_COLOR="1", COLUMNS="200", **(extra or {}))


# the threshold night's one change: a QA limit no poster of the soak is near (re-grades, renders nothing)
THRESHOLD_ENV = {"ECOMCTL__QA__SUBJECT__IOU_WARN": "0.985"}


def timed(cmd: list[str], code: Path, sample: tuple[Path, float] | None = None,
          env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `cmd`: wall seconds, CPU-seconds of it and every process it waited for (wait4), its peak RSS; with
    `sample` (events file, interval), the Sampler's series too; `env`: variables added (config overrides)."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env_for(code, env), cwd=code, stdout=subprocess.DEVNULL, stderr=err)
        sampler = Sampler(proc.pid, *sample) if sample else None
        if sampler:
            sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if sampler:
            sampler.stop()
        err.seek(0)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"render failed (exit {proc.returncode}): {' '.join(cmd)}\n{err.read().decode()[-3000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "maxrss_mb": usage.ru_maxrss / 1024,
            "exit_code": proc.returncode, "sampler": sampler}


def events_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ------------------------------------------------------------------------------------------- the soak's figures


def roles(sampler: Sampler, main_pid: int) -> dict[int, str]:
    """main, forkserver, worker, manager, resource_tracker, other. Pool workers and the manager are both
    children of the fork server; a worker is one that did real work (≥ 10 % of the busiest one's CPU)."""
    out = {}
    server = next((pid for pid, p in sampler.procs.items() if p["ppid"] == main_pid and p["kind"] == "forkserver"),
                  None)
    last_cpu: dict[int, float] = {}
    for s in sampler.samples:
        last_cpu.update(s["cpu"])
    busiest = max((last_cpu.get(pid, 0.0) for pid, p in sampler.procs.items() if p["ppid"] == server), default=0.0)
    for pid, p in sampler.procs.items():
        if pid == main_pid:
            out[pid] = "main"
        elif pid == server:
            out[pid] = "forkserver"
        elif p["kind"] == "resource_tracker":
            out[pid] = "resource_tracker"
        elif p["ppid"] == server or (server is None and p["ppid"] == main_pid):
            out[pid] = "worker" if last_cpu.get(pid, 0.0) >= 0.1 * busiest else "manager"
        else:
            out[pid] = "other"
    return out


def memory(sampler: Sampler, main_pid: int, mark: int) -> dict[str, Any]:
    """Per process: peak RSS up to poster `mark`, to the end, the growth, and the RSS slope after the mark."""
    who = roles(sampler, main_pid)
    per: dict[str, Any] = {}
    for pid, role in sorted(who.items(), key=lambda kv: (kv[1] != "main", kv[1], kv[0])):
        series = [(s["posters"], s["rss"][pid] / 2**20) for s in sampler.samples if pid in s["rss"]]
        if not series:
            continue
        before = [mb for n, mb in series if n <= mark]
        after = [(n, mb) for n, mb in series if n >= mark]
        entry = {"role": role, "peak_mb": round(max(mb for _, mb in series), 1),
                 "peak_at_mark_mb": round(max(before), 1) if before else None,
                 "alive_at_mark": bool(before) and bool(after)}
        if entry["alive_at_mark"]:
            entry["growth_after_mark_mb"] = round(entry["peak_mb"] - entry["peak_at_mark_mb"], 1)
            entry["slope_mb_per_1000_posters"] = _slope(after)
        per[f"{role}:{pid}"] = entry
    checked = {k: v for k, v in per.items() if v["role"] in ("main", "worker") and v["alive_at_mark"]}
    worst = max((v["growth_after_mark_mb"] for v in checked.values()), default=None)
    return {"mark_poster": mark, "processes": per, "max_growth_after_mark_mb": worst,
            "limit_mb": GROWTH_LIMIT_MB, "ok": worst is not None and worst <= GROWTH_LIMIT_MB}


def _slope(points: list[tuple[int, float]]) -> float | None:
    """Least-squares MB per 1,000 posters."""
    if len(points) < 3 or points[-1][0] == points[0][0]:
        return None
    n = len(points)
    mx = sum(p for p, _ in points) / n
    my = sum(m for _, m in points) / n
    var = sum((p - mx) ** 2 for p, _ in points)
    return round(1000 * sum((p - mx) * (m - my) for p, m in points) / var, 2) if var else None


def throughput(times: list[float]) -> dict[str, Any]:
    """Posters/s over the first and the last tenth of the posters (finish times of the `item` lines)."""
    n = len(times)
    tenth = max(2, n // 10)
    if n < 2 * tenth:
        return {"ok": False, "why": f"only {n} posters"}
    first = (tenth - 1) / max(1e-9, times[tenth - 1] - times[0])
    last = (tenth - 1) / max(1e-9, times[-1] - times[-tenth])
    drift = last / first - 1
    return {"posters_per_tenth": tenth, "first_tenth_posters_per_s": round(first, 3),
            "last_tenth_posters_per_s": round(last, 3), "last_vs_first": round(drift, 3),
            "limit": DRIFT_LIMIT, "ok": drift >= -DRIFT_LIMIT}


def series(sampler: Sampler, who: dict[int, str], points: int = 240) -> list[dict[str, Any]]:
    """The time series, thinned to about `points` samples: t, posters, RSS MB per role:pid."""
    step = max(1, math.ceil(len(sampler.samples) / points))
    keep = sampler.samples[::step] + ([sampler.samples[-1]] if sampler.samples else [])
    return [{"t": s["t"], "posters": s["posters"],
             "rss_mb": {f"{who.get(pid, 'other')}:{pid}": round(v / 2**20, 1) for pid, v in s["rss"].items()}}
            for s in keep]


# ------------------------------------------------------------------------------------------------- nights


def night_counts(events: Path) -> dict[str, int]:
    """Of the posters of the last run in `events`: how many were rendered, resumed, re-graded."""
    evs = events_of(events)
    start = max(i for i, e in enumerate(evs) if e["event"] == "run_start")
    items = [e for e in evs[start:] if e["event"] == "item"]
    return {"posters": len(items), "rendered": sum(1 for e in items if not e.get("resumed") and not e.get("regraded")),
            "resumed": sum(1 for e in items if e.get("resumed")),
            "regraded": sum(1 for e in items if e.get("regraded"))}


def workers_started(sampler: Sampler) -> int:
    """Processes the run started below its fork server or itself other than the fork server, its resource
    tracker and a manager that did no work: pool workers (or a manager), i.e. whether anything was
    dispatched. Sampled every few ms, so a worker that lived less than that can be missed; the counts of
    the events (nothing rendered or re-graded) are the exact check."""
    main = sampler.root.pid
    server = next((pid for pid, p in sampler.procs.items() if p["ppid"] == main and p["kind"] == "forkserver"), None)
    return sum(1 for pid, p in sampler.procs.items()
               if pid != main and p["kind"] is None and p["ppid"] in (main, server))


# --------------------------------------------------------------------------------------- 100,000-item report


def report_measure(folder: Path, items: int, dest: Path) -> dict[str, Any]:
    """In a fresh process (this tree or the baseline on PYTHONPATH): `items` results cloned from the posters
    of `folder`, fed to the report writer one at a time as a run does, then the reports written into `dest`."""
    from dataclasses import replace

    from ecomctl import qa
    from ecomctl.config import load_config
    from ecomctl.store import OutputStore
    from ecomctl.store.sidecar import qa_from_json, read_sidecar
    from ecomctl.types import ItemResult

    store = OutputStore(folder)
    real = []
    for side in store.sidecars()[:400]:
        files = store.of_sidecar(side)
        data = read_sidecar(side)
        subject = data.get("subject", {})
        q = qa_from_json(data.get("qa"))
        real.append(ItemResult(sku=data["sku"], variant=data["variant"], status=q.status if q else "pass",
                               image=files.image, sidecar=files.sidecar, qa=q, seconds=1.0, where="m.csv:2",
                               subject_method=subject.get("method"), subject_note=subject.get("note")))
    cfg = load_config(None, {"run.out": str(dest)})
    dest.mkdir(parents=True, exist_ok=True)
    qa.prepare_reports()

    cloning = [0.0]  # seconds spent making the clones (not the writer's), subtracted below

    def clones():
        for i in range(items):
            t = time.perf_counter()
            r = real[i % len(real)]
            # a distinct SKU per clone; its QA objects rebuilt, as each result arrives fresh from a worker
            q = r.qa and replace(r.qa, checks=tuple(replace(c) for c in r.qa.checks),
                                 details=json.loads(json.dumps(r.qa.details)))
            clone = replace(r, sku=f"{r.sku}-{i // len(real):05d}", qa=q)
            cloning[0] += time.perf_counter() - t
            yield clone

    rss0 = _rss_mb()
    t0 = time.perf_counter()
    from ecomctl.qa import report

    spool = getattr(report, "ReportSpool", None)
    if spool is not None:  # this tree: results are spooled as they arrive, the writers stream the spool
        with spool(dest) as sp:
            for r in clones():
                sp.append(r)
            t1 = time.perf_counter()
            qa.write_reports(dest, sp, cfg)
        kept = "spooled"
    else:  # the baseline: the runner keeps every result, then writes the reports from the list
        results = list(clones())
        t1 = time.perf_counter()
        qa.write_reports(dest, results, cfg)
        kept = "list"
    t2 = time.perf_counter()
    sizes = {p.name: round(p.stat().st_size / 1e6, 2) for p in (dest / "report.json", dest / "report.csv",
                                                                  dest / "report.html")}
    collect = t1 - t0 - cloning[0]
    return {"items": items, "distinct_posters": len(real), "results_kept_as": kept, "clone_s": round(cloning[0], 2),
            "collect_s": round(collect, 2), "write_s": round(t2 - t1, 2), "total_s": round(collect + t2 - t1, 2),
            "rss_before_mb": round(rss0, 1), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                                                   / 1024, 1),
            "file_mb": sizes}


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def report_bench(code: Path, folder: Path, items: int, dest: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--report-measure", str(folder), "--report-items",
           str(items), "--report-dest", str(dest)]
    res = subprocess.run(cmd, env=env_for(code), cwd=code, capture_output=True, text=True, check=False)
    if res.returncode:
        return {"error": res.stderr[-2000:]}
    doc = json.loads(res.stdout.splitlines()[-1])
    doc["peak_above_start_mb"] = round(doc["peak_rss_mb"] - doc["rss_before_mb"], 1)
    return doc


def baseline_tree(ref: str, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "ecomctl"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


# ------------------------------------------------------------------------------------------------------ main


def environment() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from ecomctl.bench.env import summary

    git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         check=False)
    return {**summary(), "commit": git.stdout.strip(), "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]}


def soak(args: argparse.Namespace, work: Path, code: Path) -> dict[str, Any]:
    big_rows, small_rows = manifest_rows(args.posters // 2), manifest_rows(max(1, args.small // 2))
    big = write_manifest(work / "soak" / "catalog.csv", big_rows)
    small = write_manifest(work / "small" / "catalog.csv", small_rows)
    out_big, out_small = work / "soak" / "out", work / "small" / "out"
    ev = {k: work / f"events-{k}.jsonl" for k in ("soak", "small", "noop", "noop_small", "changed", "threshold",
                                                     "threshold_again")}
    posters = 2 * len(big_rows)
    mark = min(args.mark, posters // 5)

    first_small = timed(command(code, small, out_small, args.workers, ev["small"]), code)
    run = timed(command(code, big, out_big, args.workers, ev["soak"]), code, (ev["soak"], args.interval))
    sampler: Sampler = run.pop("sampler")
    main_pid = sampler.root.pid
    who = roles(sampler, main_pid)
    statuses: dict[str, int] = {}
    for e in events_of(ev["soak"]):
        if e["event"] == "item":
            statuses[e["status"]] = statuses.get(e["status"], 0) + 1
    soak_doc = {
        "posters": posters, "skus": len(big_rows), "exit_code": run["exit_code"], "qa_status": statuses,
        "wall_s": round(run["wall_s"], 1), "posters_per_s": round(posters / run["wall_s"], 3),
        "cpu_s": round(run["cpu_s"], 1), "cpu_s_per_poster": round(run["cpu_s"] / posters, 4),
        "memory": memory(sampler, main_pid, mark), "throughput": throughput(sampler.item_times),
        "samples": len(sampler.samples), "series": series(sampler, who),
    }

    # the nights: no-op (big and small interleaved), then 1 % of the rows' copy changed
    noop: list[dict[str, Any]] = []
    noop_small: list[dict[str, Any]] = []
    spawned = []  # per no-op night: processes started below the run (pool workers: something was dispatched)
    for _ in range(args.repeat):
        noop_small.append(timed(command(code, small, out_small, args.workers, ev["noop_small"]), code))
        noop.append(timed(command(code, big, out_big, args.workers, ev["noop"]), code, (ev["noop"], 0.02)))
        spawned.append(workers_started(noop[-1].pop("sampler")))
    noop_counts = night_counts(ev["noop"])
    # the threshold night: one QA limit changed, every poster re-graded from its stored layers, none rendered;
    # then the same settings again (the grading key is stable: nothing to do), and the 1 % night under them
    th = timed(command(code, big, out_big, args.workers, ev["threshold"]), code, env=THRESHOLD_ENV)
    th_counts = night_counts(ev["threshold"])
    again = timed(command(code, big, out_big, args.workers, ev["threshold_again"]), code, env=THRESHOLD_ENV)
    again_counts = night_counts(ev["threshold_again"])
    rows, changed = changed_copy(big_rows, args.changed)
    write_manifest(big, rows)
    ch = timed(command(code, big, out_big, args.workers, ev["changed"]), code, env=THRESHOLD_ENV)
    ch_counts = night_counts(ev["changed"])
    n_small = 2 * len(small_rows)
    best, best_small = min(r["wall_s"] for r in noop), min(r["wall_s"] for r in noop_small)
    cpu, cpu_small = min(r["cpu_s"] for r in noop), min(r["cpu_s"] for r in noop_small)
    per_noop = (best - best_small) / (posters - n_small)
    nights = {
        "small_folder_posters": n_small, "repeats": args.repeat,
        "small_first_render_s": round(first_small["wall_s"], 2),
        "noop": {"wall_s": [round(r["wall_s"], 3) for r in noop], "cpu_s": [round(r["cpu_s"], 3) for r in noop],
                 "small_wall_s": [round(r["wall_s"], 3) for r in noop_small],
                 "small_cpu_s": [round(r["cpu_s"], 3) for r in noop_small],
                 "ms_per_poster": round(1000 * best / posters, 3),
                 "ms_per_poster_beyond_startup": round(1000 * per_noop, 3),
                 "cpu_ms_per_poster_beyond_startup": round(1000 * (cpu - cpu_small) / (posters - n_small), 3),
                 "startup_s": round(best_small, 3), "counts": noop_counts,
                 "processes_started": spawned,
                 "ok": noop_counts["rendered"] == 0 and noop_counts["regraded"] == 0 and per_noop <= 0.001},
        "threshold": {"env": THRESHOLD_ENV, "wall_s": round(th["wall_s"], 2), "cpu_s": round(th["cpu_s"], 2),
                      "s_per_regraded_poster": round((th["wall_s"] - best) / max(1, th_counts["regraded"]), 4),
                      "cpu_s_per_regraded_poster": round((th["cpu_s"] - cpu) / max(1, th_counts["regraded"]), 4),
                      "counts": th_counts,
                      "ok": th_counts["rendered"] == 0 and th_counts["regraded"] == posters},
        "threshold_again": {"wall_s": round(again["wall_s"], 3), "counts": again_counts,
                            "ok": again_counts["resumed"] == posters},
        "changed": {"share": args.changed, "rows_changed": changed, "posters_changed": 2 * changed,
                    "wall_s": round(ch["wall_s"], 2), "cpu_s": round(ch["cpu_s"], 2),
                    "ms_per_poster": round(1000 * ch["wall_s"] / posters, 3),
                    "ms_per_poster_beyond_startup": round(1000 * (ch["wall_s"] - best_small) / posters, 3),
                    "s_per_changed_poster": round((ch["wall_s"] - best) / max(1, 2 * changed), 3),
                    "counts": ch_counts,
                    "ok": ch_counts["rendered"] == 2 * changed and ch_counts["regraded"] == 0},
    }
    return {"soak": soak_doc, "nights": nights, "out": out_big}


def projection(doc: dict[str, Any], target: int) -> dict[str, Any]:
    s, n = doc["soak"], doc["nights"]
    startup = n["noop"]["startup_s"]
    render_s = (s["wall_s"] - startup) / s["posters"]
    noop_s = max(0.0, n["noop"]["ms_per_poster_beyond_startup"] / 1000)  # below 0: the noise of the start-up
    changed_s = n["changed"]["s_per_changed_poster"]
    return {
        "posters": target, "noop_ms_per_poster_used": round(noop_s * 1000, 3), "startup_s": startup,
        "assumptions": ("linear in the poster count: the per-poster costs measured here hold at this size (the soak "
                        "shows no drift in memory or speed), same machine and worker count, same kind of catalog "
                        "(transparent packshots, 2 variants per SKU, 1024², QA on), start-up once per run, the "
                        "report written as measured for the 100,000-item report"),
        "first_night_h": round((startup + render_s * target) / 3600, 2),
        "first_night_cpu_h": round(s["cpu_s_per_poster"] * target / 3600, 2),
        "noop_night_s": round(startup + noop_s * target, 1),
        "one_percent_night_s": round(startup + noop_s * target + changed_s * target * n["changed"]["share"], 1),
        # every night ends with the reports of all its posters (measured for --report-items, scaled linearly)
        "report_write_s": _report_write(doc, target),
    }


def _report_write(doc: dict[str, Any], target: int) -> float | None:
    ours = (doc.get("report") or {}).get("ours") or {}
    if not ours.get("items") or "write_s" not in ours:
        return None
    return round(ours["write_s"] * target / ours["items"], 1)


def ratios(doc: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """This tree's figure over the compared commit's (measured in the same invocation): above 1, slower now."""
    def r(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a is not None and b else None

    n, m = doc["nights"], base["nights"]
    return {"first_night_cpu_s_per_poster": r(doc["soak"]["cpu_s_per_poster"], base["soak"]["cpu_s_per_poster"]),
            "noop_ms_per_poster": r(n["noop"]["ms_per_poster"], m["noop"]["ms_per_poster"]),
            "noop_ms_per_poster_beyond_startup": r(n["noop"]["ms_per_poster_beyond_startup"],
                                                   m["noop"]["ms_per_poster_beyond_startup"]),
            "noop_startup_s": r(n["noop"]["startup_s"], m["noop"]["startup_s"]),
            "s_per_regraded_poster": r(n["threshold"]["s_per_regraded_poster"],
                                       m["threshold"]["s_per_regraded_poster"]),
            "s_per_changed_poster": r(n["changed"]["s_per_changed_poster"], m["changed"]["s_per_changed_poster"])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posters", type=int, default=5000, help="posters in the soak (SKUs × 2 variants)")
    ap.add_argument("--workers", "-j", type=int, default=2)
    ap.add_argument("--small", type=int, default=20, help="posters of the small folder (start-up of a night)")
    ap.add_argument("--mark", type=int, default=500, help="poster from which memory must stay flat")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between memory samples")
    ap.add_argument("--repeat", type=int, default=3, help="timings of each night (best is used)")
    ap.add_argument("--changed", type=float, default=0.01, help="share of rows whose copy the changed night edits")
    ap.add_argument("--project", type=int, default=100_000, help="posters to project to")
    ap.add_argument("--report-items", type=int, default=100_000, help="items of the report measured (0: skip)")
    ap.add_argument("--baseline", default="8e28f35",
                    help="git revision whose ecomctl/ writes the same report, for the ratio ('' to skip)")
    ap.add_argument("--compare", default="",
                    help="git revision whose ecomctl/ runs the same soak and nights in this invocation (ratios)")
    ap.add_argument("--note", default="", help="recorded in the JSON (e.g. why this size)")
    ap.add_argument("--code", type=Path, default=ROOT, help="the tree whose ecomctl/ renders (default: this one)")
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary folder)")
    ap.add_argument("--out-json", type=Path, default=RESULT)
    ap.add_argument("--report-measure", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--report-dest", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.report_measure:
        print(json.dumps(report_measure(args.report_measure, args.report_items, args.report_dest)))
        return 0
    if args.posters < 20:
        ap.error("--posters: at least 20")
    work = args.keep or Path(tempfile.mkdtemp(prefix="ecomctl-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    code = args.code.resolve()
    try:
        doc: dict[str, Any] = {"benchmark": "soak: a long render with QA on, its nights, a 100,000-item report",
                               "command": f"ecomctl render MANIFEST --out OUT -j {args.workers} --log-json EVENTS "
                                          "--quiet",
                               "environment": environment(), "code": str(code),
                               **({"note": args.note} if args.note else {})}
        t0 = time.perf_counter()
        result = soak(args, work, code)
        out = result.pop("out")
        doc.update(result)
        if args.report_items:
            rep: dict[str, Any] = {"ours": report_bench(code, out, args.report_items, work / "report-ours")}
            if args.baseline:
                base = baseline_tree(args.baseline, work / "baseline")
                rep["baseline_ref"] = args.baseline
                rep["baseline"] = report_bench(base, out, args.report_items, work / "report-base")
                o, b = rep["ours"], rep["baseline"]
                if "error" not in o and "error" not in b:
                    rep["baseline_vs_ours"] = {
                        "total_s": round(b["total_s"] / max(o["total_s"], 1e-9), 2),
                        "peak_above_start_mb": round(b["peak_above_start_mb"] / max(o["peak_above_start_mb"], 1), 2)}
            doc["report"] = rep
        doc["environment"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        doc["bench_wall_s"] = round(time.perf_counter() - t0, 1)
        if args.compare:  # the same soak and nights with an earlier commit's ecomctl/, in this invocation
            base_code = baseline_tree(args.compare, work / "compare-code")
            base = soak(args, work / "compare", base_code)
            base.pop("out")
            base["soak"].pop("series", None)
            doc["compare"] = {"ref": args.compare, **base, "ratios": ratios(doc, base)}
        doc["projection"] = projection(doc, args.project)
        nights = doc["nights"]
        doc["ok"] = bool(doc["soak"]["memory"]["ok"] and doc["soak"]["throughput"]["ok"]
                         and all(nights[k]["ok"] for k in ("noop", "changed", "threshold", "threshold_again")))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    args.out_json.parent.mkdir(parents=True, exist_ok=True)
    args.out_json.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    brief = {k: v for k, v in doc.items() if k not in ("environment",)}
    brief["soak"] = {k: v for k, v in doc["soak"].items() if k != "series"}
    print(json.dumps(brief, indent=2, ensure_ascii=False))
    return 0 if doc["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
