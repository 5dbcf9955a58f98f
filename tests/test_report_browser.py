"""report.html in a real browser: headless Chromium renders it (screenshot non-blank, table in the DOM)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ecomctl.config import load_config
from ecomctl.qa import write_reports
from tests.test_qa_report import sample_results

pytestmark = pytest.mark.browser
CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does it)")
def test_report_renders_in_headless_chromium(tmp_path):
    write_reports(tmp_path, sample_results(tmp_path), load_config(environ={}))
    page = (tmp_path / "report.html").resolve().as_uri()
    shot = tmp_path / "report.png"
    run = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,1000", page)
    assert shot.is_file(), run.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB")).astype(np.int16)
    assert img.shape[:2] == (1000, 1400)
    assert img.std() > 10  # not a blank page
    assert (np.abs(img - (207, 34, 46)).sum(axis=-1) < 40).sum() > 50  # the red "fail" chips/badges painted
    dom = chromium(tmp_path, "--dump-dom", page).stdout
    assert '<table class="items" id="items">' in dom
    assert "4 of 4 shown" in dom  # the inline script ran (filter counter)
    assert dom.count("<tr class=\"st-") == 4
    text = re.sub(r"<[^>]+>", "", dom)
    assert "QA report — 2 of 4 not safe to publish" in text and "1 safe to publish" in text
    assert "What to look at" in text and "copy read back (NED) text.ned: 2 fail" in text


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does it)")
def test_report_fits_a_phone(tmp_path):
    """At a phone's width the verdict boxes and every row's reasons are on screen: the metric columns fold
    away instead of pushing the page wider than the screen."""
    write_reports(tmp_path, sample_results(tmp_path), load_config(environ={}))
    page = (tmp_path / "report.html").resolve().as_uri()
    shot = tmp_path / "phone.png"
    run = chromium(tmp_path, f"--screenshot={shot}", "--window-size=390,1600", page)
    assert shot.is_file(), run.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB")).astype(np.int16)
    red = np.abs(img - (207, 34, 46)).sum(axis=-1) < 40  # --fail: the "do not publish" box, the fail badges
    rows = np.nonzero(red)[0]
    assert rows.size > 500 and rows.min() < 400  # the verdict box is near the top
    # a table wider than the screen would be cut at its right edge; the page is laid out to the width
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "@media (max-width: 760px)" in html
    probe = tmp_path / "probe.html"  # the page, reporting its laid-out width against the viewport's
    probe.write_text(html.replace("</body>", '<script>document.title = document.documentElement.scrollWidth + "/" + '
                                             'window.innerWidth</script></body>'), encoding="utf-8")
    dom = chromium(tmp_path, "--window-size=390,1600", "--dump-dom", probe.resolve().as_uri()).stdout
    width, viewport = map(int, re.search(r"<title>(\d+)/(\d+)</title>", dom).groups())  # --dump-dom: >= 500 wide
    assert viewport < 760 and width <= viewport, (width, viewport)
