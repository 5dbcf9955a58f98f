"""The output store: atomic writes honour the umask, resume verifies the poster file, a failed SKU leaves its
full traceback in OUT/logs/ (printed with --debug), the sidecar reader names the wrong field."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecomctl.cli import app
from ecomctl.store import OutputStore
from ecomctl.store.files import atomic_write_bytes
from ecomctl.store.sidecar import SidecarError, read_sidecar
from tests.conftest import make_product, write_manifest

runner = CliRunner()


def _render(manifest: Path, out: Path, config: Path, *extra: str):
    return runner.invoke(app, [*extra, "render", str(manifest), "--out", str(out), "--config", str(config)])


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield lambda m: os.umask(m)
    os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_write_honours_the_umask(tmp_path: Path, umask, mask: int, mode: int):
    umask(mask)
    atomic_write_bytes(tmp_path / "f.bin", b"x")
    assert stat.S_IMODE((tmp_path / "f.bin").stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # no temporary file left behind


def test_every_output_file_honours_the_umask(small_manifest: Path, fast_config: Path, tmp_path: Path, umask):
    umask(0o002)
    out = tmp_path / "out"
    assert _render(small_manifest, out, fast_config).exit_code == 0
    files = [p for p in out.rglob("*") if p.is_file() and p.name != ".ecomctl.lock"]
    assert len(files) > 10
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {p.name: "0o664" for p in files}


def test_truncated_poster_with_intact_sidecar_is_rendered_again(small_manifest: Path, fast_config: Path,
                                                                 tmp_path: Path):
    out = tmp_path / "out"
    assert _render(small_manifest, out, fast_config).exit_code == 0
    poster = out / "A1" / "A1-v2.png"
    good = poster.read_bytes()
    poster.write_bytes(good[: len(good) // 2])
    res = _render(small_manifest, out, fast_config)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert "pass    A1-v2" in lines and "pass    B2-v1 (unchanged)" in lines
    assert poster.read_bytes() == good


def test_replaced_poster_of_the_same_size_is_rendered_again(small_manifest: Path, fast_config: Path,
                                                             tmp_path: Path):
    out = tmp_path / "out"
    assert _render(small_manifest, out, fast_config).exit_code == 0
    poster = out / "B2" / "B2-v1.png"
    good = poster.read_bytes()
    poster.write_bytes(good[:-1] + bytes([good[-1] ^ 0xFF]))  # same size, other digest
    res = _render(small_manifest, out, fast_config)
    assert "pass    B2-v1" in res.stdout.splitlines() and poster.read_bytes() == good


def test_missing_layer_is_rendered_again(small_manifest: Path, fast_config: Path, tmp_path: Path):
    out = tmp_path / "out"
    assert _render(small_manifest, out, fast_config).exit_code == 0
    (out / "B2" / "B2-v1.cutout.png").unlink()
    res = _render(small_manifest, out, fast_config)
    assert "pass    B2-v1" in res.stdout.splitlines() and (out / "B2" / "B2-v1.cutout.png").is_file()


def test_editing_a_preset_no_sku_uses_rerenders_nothing(tmp_path: Path, fast_config: Path):
    make_product(tmp_path / "a.png")
    styles = tmp_path / "styles.yaml"
    styles.write_text("mine:\n  background: ['#FFFFFF', '#EEEEEE']\nother:\n  background: ['#000000']\n",
                      encoding="utf-8")
    path = write_manifest(tmp_path / "m.csv", [
        {"sku": "S", "image": "a.png", "title": "Pinned", "style": "mine", "size": "256x256", "variants": "1"}])
    out = tmp_path / "out"
    assert _render(path, out, fast_config).exit_code == 0
    styles.write_text("mine:\n  background: ['#FFFFFF', '#EEEEEE']\nother:\n  background: ['#111111']\n",
                      encoding="utf-8")
    assert "pass    S-v1 (unchanged)" in _render(path, out, fast_config).stdout.splitlines()
    styles.write_text("mine:\n  background: ['#FFFFFF', '#DDDDDD']\nother:\n  background: ['#111111']\n",
                      encoding="utf-8")
    assert "pass    S-v1" in _render(path, out, fast_config).stdout.splitlines()


def _corrupt_style_manifest(tmp_path: Path) -> Path:
    make_product(tmp_path / "ok.png")
    (tmp_path / "style.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return write_manifest(tmp_path / "m.csv", [
        {"sku": "BAD", "image": "ok.png", "title": "Bad style", "style": "style.png", "size": "256x256",
         "variants": "1"},
        {"sku": "OK", "image": "ok.png", "title": "Good", "size": "256x256", "variants": "1"}])


def test_failed_sku_leaves_its_full_traceback_in_out_logs(tmp_path: Path, fast_config: Path):
    out = tmp_path / "out"
    res = _render(_corrupt_style_manifest(tmp_path), out, fast_config)
    assert res.exit_code == 1
    log = (out / "logs" / "BAD.log").read_text(encoding="utf-8")
    assert log.startswith("BAD (") and "Traceback (most recent call last):" in log
    assert 'File "' in log and "render_sku" in log  # every frame, not only the first line
    assert not (out / "logs" / "OK.log").exists()
    item = next(i for i in json.loads((out / "report.json").read_text())["items"] if i["sku"] == "BAD")
    assert item["status"] == "error" and item["error"] in log
    assert "Traceback" not in res.stderr  # without --debug: one line per SKU


def test_debug_prints_the_traceback_of_a_failed_sku(tmp_path: Path, fast_config: Path):
    res = _render(_corrupt_style_manifest(tmp_path), tmp_path / "out", fast_config, "--debug")
    assert res.exit_code == 1
    assert "Traceback (most recent call last):" in res.stderr and "BAD (" in res.stderr


def test_log_of_a_sku_that_later_succeeds_is_removed(tmp_path: Path, fast_config: Path):
    path = _corrupt_style_manifest(tmp_path)
    out = tmp_path / "out"
    _render(path, out, fast_config)
    assert (out / "logs" / "BAD.log").is_file()
    from PIL import Image

    Image.new("RGB", (64, 64), (200, 100, 50)).save(tmp_path / "style.png")
    assert _render(path, out, fast_config).exit_code == 0
    assert not (out / "logs" / "BAD.log").exists()


def test_sidecar_reader_names_the_field(tmp_path: Path):
    path = tmp_path / "A-v1.json"
    path.write_text(json.dumps({"schema": "ecomctl.sidecar/2", "sku": "A"}), encoding="utf-8")
    with pytest.raises(SidecarError, match=r"A-v1.json: field variant: Field required$"):
        read_sidecar(path)


def test_discovery_lists_sidecars_by_name_in_sku_and_variant_order(tmp_path: Path):
    for rel in ("B/B-v10.json", "B/B-v2.json", "A/A-v1.json", "A/notes.json", "A/B-v1.json", "logs/x.json"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}", encoding="utf-8")
    found = [p.relative_to(tmp_path).as_posix() for p in OutputStore(tmp_path).sidecars()]
    assert found == ["A/A-v1.json", "B/B-v2.json", "B/B-v10.json"]


def test_old_grounded_sam_download_key_stops_the_run_up_front(small_manifest: Path, tmp_path: Path):
    cfg = tmp_path / "old.yaml"
    cfg.write_text("qa:\n  text:\n    enabled: false\nsubject:\n  grounded-sam:\n    download: true\n",
                   encoding="utf-8")
    res = _render(small_manifest, tmp_path / "out", cfg)
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [("error: config subject.grounded-sam.download: renamed allow_download "
                                        "(the name every backend uses); rename the key")]
    assert not (tmp_path / "out" / "A1").exists()
