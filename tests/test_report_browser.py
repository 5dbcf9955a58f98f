"""report.html in a real browser: headless Chromium renders it (screenshot non-blank, table in the DOM)."""

from __future__ import annotations

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
