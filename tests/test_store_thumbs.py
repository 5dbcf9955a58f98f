"""report.html's thumbnails are made once, by the worker from the poster in memory, stored beside the poster and
read back by the report; one that does not fit (other settings, a replaced poster) is made from the poster file."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from typer.testing import CliRunner

from ecomctl.cli import app
from ecomctl.qa.report_html import thumbnail
from ecomctl.store.posters import stored_thumbnail
from ecomctl.store.sidecar import read_sidecar

runner = CliRunner()


def _inlined(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'data:image/jpeg;base64,([A-Za-z0-9+/=]+)', html)]


def test_thumbnails_are_written_with_the_poster_and_used_by_the_report(small_manifest: Path, fast_config: Path,
                                                                        tmp_path: Path):
    out = tmp_path / "out"
    res = runner.invoke(app, ["render", str(small_manifest), "--out", str(out), "--config", str(fast_config)])
    assert res.exit_code == 0, res.output
    sidecars = sorted(out.glob("*/*-v*.json"))
    stored = []
    for side in sidecars:
        files = read_sidecar(side)["files"]
        assert files["thumb"] == side.name.replace(".json", ".thumb.jpg")
        assert (files["thumb_px"], files["thumb_quality"]) == (160, 70)
        data = (side.parent / files["thumb"]).read_bytes()
        # the very bytes the report used to make by decoding the poster file
        assert data == base64.b64decode(thumbnail(side.with_suffix(".png"), 160, 70).split(",", 1)[1])
        assert stored_thumbnail(side, 160, 70) == data and stored_thumbnail(side, 120, 70) is None
        stored.append(data)
    assert sorted(_inlined((out / "report.html").read_text(encoding="utf-8"))) == sorted(stored)

    poster = sidecars[0].with_suffix(".png")  # replaced by hand after the run (same size): never its old thumb
    good = poster.read_bytes()
    poster.write_bytes(good[:-1] + bytes([good[-1] ^ 0xFF]))
    assert stored_thumbnail(sidecars[0], 160, 70) is None
    poster.write_bytes(good)

    other = tmp_path / "small.yaml"
    other.write_text("qa:\n  text:\n    enabled: false\n  report:\n    thumb_px: 64\n", encoding="utf-8")
    res = runner.invoke(app, ["qa", str(out), "--config", str(other)])
    assert res.exit_code == 0, res.output
    want = [base64.b64decode(thumbnail(s.with_suffix(".png"), 64, 70).split(",", 1)[1]) for s in sidecars]
    assert sorted(_inlined((out / "report.html").read_text(encoding="utf-8"))) == sorted(want)
    assert all(len(w) < len(s) for w, s in zip(want, stored))  # made at the new size, not the stored ones
