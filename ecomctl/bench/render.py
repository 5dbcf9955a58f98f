"""`ecomctl bench --backend compose MANIFEST`: the whole `render` command timed end to end (QA, writes and
reports included) for several worker counts, optionally against an earlier installed ecomctl in the same run.

Each run is a fresh `ecomctl render --force` subprocess into its own temporary folder; its wall time gives
posters/s, the kernel's accounting of the process and its workers (wait4) gives CPU-seconds and peak RSS,
and the sidecars' per-stage timings split the CPU-seconds by stage. Runs alternate between the versions
so that both see the same load on a shared machine.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecomctl.errors import ConfigError

SCHEMA = "ecomctl.bench.render/1"
_ENTRY = "from ecomctl.cli import main; main()"
_OCR_START = ("import time; t = time.process_time(); from ecomctl.text.ocr import get_ocr; "
              "e = get_ocr({'threads': 1}); import numpy as np; e.recognize([np.full((48, 96, 3), 255, np.uint8)]); "
              "print(time.process_time() - t)")


@dataclass
class RenderBenchSpec:
    manifest: Path
    workers: list[int] = field(default_factory=lambda: [1, 2])
    baseline: str | None = None  # a python executable or venv folder with an earlier ecomctl installed
    repeats: int = 1
    keep: Path | None = None  # keep the output folders here (else a temporary folder, removed)
    extra: list[str] = field(default_factory=list)  # extra `render` arguments (e.g. --config FILE)


def python_of(ref: str) -> str:
    """The python executable of `ref`: a python file, or a venv / install prefix holding bin/python."""
    path = Path(ref).expanduser()
    for cand in (path, path / "bin" / "python", path / ".venv" / "bin" / "python"):
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    raise ConfigError(f"--baseline {ref!r}: not a python executable or a folder with bin/python "
                      "(install the earlier ecomctl into a venv and pass its folder)")


def _version(python: str, cwd: Path) -> str:
    code = "import ecomctl, sys; print(ecomctl.__version__, ecomctl.__file__)"
    # run outside any source checkout: `python -c` puts the working directory first on sys.path
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd,
                         check=False)  # a failure is reported from its stderr
    return out.stdout.strip() or out.stderr.strip().splitlines()[-1]


def _timed(cmd: list[str], env: dict[str, str], cwd: Path) -> dict[str, float]:
    """Run `cmd`; wall seconds, CPU-seconds (user + system, the process and every worker it waited for)
    and the peak resident memory of the largest of them (MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode not in (0, 1):
        raise ConfigError(f"benchmark run failed (exit {proc.returncode}): {' '.join(cmd)}\n{err[-2000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024,
            "exit_code": proc.returncode}


def _stages(out: Path) -> tuple[int, dict[str, float], dict[str, int]]:
    """(posters, mean wall seconds per poster per stage from the sidecars, QA statuses)."""
    totals: dict[str, float] = {}
    statuses: dict[str, int] = {}
    n = 0
    for side in sorted(out.glob("*/*-v*.json")):
        data = json.loads(side.read_text(encoding="utf-8"))
        if "timings" not in data:
            continue
        n += 1
        variants = int((data.get("inputs") or {}).get("variants") or 1)
        for k, v in data["timings"].items():
            if k == "total":
                continue
            # extraction runs once per SKU but is recorded on each of its posters
            totals[k] = totals.get(k, 0.0) + float(v) / (variants if k == "extract" else 1)
        status = (data.get("qa") or {}).get("status", "?")
        statuses[status] = statuses.get(status, 0) + 1
    return n, {k: v / max(n, 1) for k, v in totals.items()}, statuses


def _one(python: str, spec: RenderBenchSpec, workers: int, out: Path) -> dict[str, Any]:
    env = dict(os.environ, PYTHONHASHSEED="0", NO_COLOR="1", COLUMNS="200")
    cmd = [python, "-c", _ENTRY, "render", str(spec.manifest.resolve()), "--out", str(out), "--force",
           "--workers", str(workers), *spec.extra]
    m = _timed(cmd, env, out.parent)
    posters, stage_wall, statuses = _stages(out)
    stage_sum = sum(stage_wall.values()) or 1.0
    cpu_per_poster = m["cpu_s"] / max(posters, 1)
    # per-stage CPU-seconds: the run's measured CPU split in the proportions of the stage timings (start-up,
    # OCR start-up and reports are spread over the stages; `ocr_startup_cpu_s` reports OCR start-up alone)
    by_stage = {k: round(cpu_per_poster * v / stage_sum, 4) for k, v in stage_wall.items()}
    return {"workers": workers, "posters": posters, "wall_s": round(m["wall_s"], 2),
            "posters_per_s": round(posters / m["wall_s"], 3), "cpu_s_per_poster": round(cpu_per_poster, 3),
            "cpu_s_per_poster_by_stage": by_stage,
            "wall_s_per_poster_by_stage": {k: round(v, 4) for k, v in stage_wall.items()},
            "peak_rss_mb": round(m["peak_rss_mb"], 1), "exit_code": m["exit_code"], "qa_status": statuses}


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["posters_per_s"])
    best = dict(ordered[len(ordered) // 2])
    best["posters_per_s_all"] = [r["posters_per_s"] for r in runs]
    return best


def ocr_startup_s(python: str, cwd: Path) -> float | None:
    """CPU-seconds to import the OCR engine and read one line (what every worker process pays once)."""
    out = subprocess.run([python, "-c", _OCR_START], capture_output=True, text=True, timeout=300, cwd=cwd,
                         check=False)  # no number is the answer when it fails
    try:
        return round(float(out.stdout.strip().splitlines()[-1]), 3)
    except (ValueError, IndexError):
        return None


def run_render_bench(spec: RenderBenchSpec) -> dict[str, Any]:
    """Posters/s, CPU-seconds per poster (and by stage) and peak memory per worker count; with a
    baseline, the same runs with the earlier version interleaved, the ratio, and a poster-by-poster
    comparison of pixels and QA figures between the two."""
    from ecomctl.bench.compare import compare

    if not spec.manifest.is_file():
        raise ConfigError(f"manifest not found: {spec.manifest}")
    versions = {"current": sys.executable}
    if spec.baseline:
        versions["baseline"] = python_of(spec.baseline)
    root = Path(tempfile.mkdtemp(prefix="ecomctl-bench-")) if spec.keep is None else spec.keep
    root.mkdir(parents=True, exist_ok=True)
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {v: {w: [] for w in spec.workers} for v in versions}
    try:
        for rep in range(spec.repeats):
            for w in spec.workers:
                for name, python in versions.items():
                    out = root / f"{name}-w{w}-r{rep}"
                    shutil.rmtree(out, ignore_errors=True)
                    runs[name][w].append(_one(python, spec, w, out))
        result: dict[str, Any] = {
            "schema": SCHEMA, "backend": "compose", "manifest": str(spec.manifest), "repeats": spec.repeats,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "load_avg_at_end": [round(x, 2) for x in os.getloadavg()]},
            "versions": {name: {"python": py, "ecomctl": _version(py, root),
                                "ocr_startup_cpu_s": ocr_startup_s(py, root)}
                         for name, py in versions.items()},
        }
        for name in versions:
            result[name] = {str(w): _median_run(runs[name][w]) for w in spec.workers}
        if "baseline" in versions:
            result["speedup"] = {str(w): round(result["current"][str(w)]["posters_per_s"]
                                               / result["baseline"][str(w)]["posters_per_s"], 2)
                                 for w in spec.workers}
            result["cpu_ratio"] = {str(w): round(result["baseline"][str(w)]["cpu_s_per_poster"]
                                                 / result["current"][str(w)]["cpu_s_per_poster"], 2)
                                   for w in spec.workers}
            result["same_posters"] = {}
            for w in spec.workers:
                diff = compare(root / f"baseline-w{w}-r0", root / f"current-w{w}-r0")
                result["same_posters"][str(w)] = {k: diff[k] for k in ("posters", "compared", "max_mad", "mean_mad",
                                                                       "identical", "ok", "problems",
                                                                       "design_changed", "checks_added",
                                                                       "checks_removed")}
        return result
    finally:
        if spec.keep is None:
            shutil.rmtree(root, ignore_errors=True)
