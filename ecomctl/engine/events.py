"""Run events as JSON lines (`--log-json FILE`): run start, one line per poster, run end — for cron and log shippers."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ecomctl import __version__
from ecomctl.errors import ConfigError
from ecomctl.store.files import writing
from ecomctl.types import ItemResult

SCHEMA = "ecomctl.events/1"


class JsonLog:
    """Appends one JSON object per line; each line is one write on an O_APPEND file, flushed at once, so a
    `tail -f` or a log shipper sees whole lines and two runs appending to one file never interleave a line."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.run = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError as e:
            raise ConfigError(f"--log-json {self.path}: cannot open for appending: {e.strerror}") from None

    def write(self, event: str, **fields: Any) -> None:
        line = {"event": event, "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "run": self.run, **fields}
        with writing(self.path):  # a full disk here stops the run like any other write (exit 3)
            os.write(self._fd, (json.dumps(line, ensure_ascii=False, default=str) + "\n").encode("utf-8"))

    def start(self, **fields: Any) -> None:
        self.write("run_start", schema=SCHEMA, ecomctl=__version__, pid=os.getpid(), **fields)

    def item(self, res: ItemResult) -> None:
        self.write("item", **item_fields(res))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def item_fields(res: ItemResult) -> dict[str, Any]:
    """One poster's line: verdict, failing reasons, QA numbers and per-stage timings (from its sidecar)."""
    qa = res.qa
    return {
        "sku": res.sku, "variant": res.variant, "status": res.status, "resumed": res.resumed,
        "regraded": res.regraded, **_replan_fields(res),
        "image": str(res.image) if res.image else None, "where": res.where, "error": res.error,
        "seconds": round(res.seconds, 4), "timings": _timings(res),
        "reasons": qa.reasons if qa else [],
        "qa": {k: v for k, v in qa.metrics.items() if v is None or isinstance(v, (int, float))} if qa else {},
    }


def _replan_fields(res: ItemResult) -> dict[str, bool]:
    """--replan's two flags, on the lines of a --replan run only (other nights' lines stay as they were)."""
    return {"replanned": True, "layout_changed": res.layout_changed} if res.replanned else {}


def _timings(res: ItemResult) -> dict[str, float]:
    """Seconds per stage as the sidecar recorded them; {} for a poster resumed unchanged (nothing ran for it
    tonight; its sidecar keeps the render's timings), so summing a night's lines gives that night's work and
    an unchanged night reads no sidecar twice."""
    if res.sidecar is None or res.resumed:
        return {}
    from ecomctl.errors import EcomctlError
    from ecomctl.store.sidecar import read_sidecar

    try:
        timings = read_sidecar(res.sidecar, check=False).get("timings", {})
        return {k: round(float(v), 4) for k, v in timings.items() if isinstance(v, (int, float))}
    except (EcomctlError, AttributeError):
        return {}


def counts(results: list[ItemResult] | tuple[ItemResult, ...]) -> dict[str, int]:
    out = {s: 0 for s in ("pass", "warn", "fail", "error")}
    for r in results:
        out[r.status] = out.get(r.status, 0) + 1
    out["resumed"] = sum(r.resumed for r in results)
    out["regraded"] = sum(r.regraded for r in results)
    if any(r.rejudged for r in results):  # of those: judged again from the stored measurements (limits only)
        out["rejudged"] = sum(r.rejudged for r in results)
    if any(r.replanned for r in results):  # --replan: N re-planned, M re-rendered (layout changed)
        out["replanned"] = sum(r.replanned for r in results)
        out["layout_changed"] = sum(r.layout_changed for r in results)
    return out

