"""`ecomctl bench`: tiny random-weight runs of every diffusion backend print valid JSON on CPU; the stock
baseline is timed in the same run; bad requests exit 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecomctl.cli import app
from tests.tiny_models import NAMES

pytest.importorskip("diffusers")
runner = CliRunner()
TINY = ["--scale", "tiny", "--random-weights", "--size", "64x64", "--repeats", "1", "--threads", "1",
        "--device", "cpu"]


def _bench(*args: str):
    res = runner.invoke(app, ["bench", *args])
    return res, (json.loads(res.stdout) if res.exit_code == 0 else None)


@pytest.mark.models
@pytest.mark.parametrize("name", NAMES)
def test_tiny_bench_prints_valid_json(name: str):
    res, rec = _bench("--backend", name, *TINY)
    assert res.exit_code == 0, res.output
    assert rec["schema"] == "ecomctl.bench/1" and rec["backend"] == name and rec["size"] == "64x64"
    ours = rec["ours"]
    assert ours["seconds_per_image"] > 0 and ours["images_per_second"] > 0 and ours["peak_memory_mb"] > 0
    assert ours["stages_seconds_per_image"]["denoise"] > 0
    assert "vae_decode" in ours["stages_seconds_per_image"]
    assert rec["env"]["torch"]["installed"] and "speedup_vs_stock" not in rec


@pytest.mark.models
def test_stock_baseline_in_same_run_and_out_file(tmp_path: Path):
    out = tmp_path / "r" / "sdxs.json"
    res, rec = _bench("--backend", "sdxs", *TINY, "--batch", "2", "--baseline", "stock", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text()) == rec
    stock, ours = rec["baseline"], rec["ours"]
    assert stock["name"] == "stock" and stock["steps"] == 50 and stock["guidance"] == 7.5 and not stock["knobs"].get(
        "channels_last")
    assert ours["steps"] == 1 and ours["knobs"]["channels_last"]
    assert rec["speedup_vs_stock"] == round(stock["seconds_per_image"] / ours["seconds_per_image"], 3)


@pytest.mark.parametrize(("args", "message"), [
    (["--backend", "compose", *TINY], ("error: bench --backend compose needs a MANIFEST: ecomctl bench --backend "
                                       "compose catalog.csv")),
    (["--backend", "sdxs", "--scale", "tiny"], "error: --scale tiny and --baseline stock need --random-weights"),
    (["--backend", "sdxs", "--size", "big", "--random-weights"], "error: --size 'big': expected WxH, e.g. 1024x1024"),
    (["--backend", "sdxs", "--random-weights", "--baseline", "fast"], "error: unknown baseline 'fast' (known: stock)"),
])
def test_bad_requests_exit_2_with_one_line(args: list[str], message: str):
    res = runner.invoke(app, ["bench", *args])
    assert res.exit_code == 2
    assert [ln for ln in res.output.splitlines() if ln.strip()] == [message]


@pytest.mark.gpu
@pytest.mark.parametrize(("name", "size", "steps"), [("sdxs", "512x512", "1"), ("sdxl-inpaint", "1024x1024", "4")])
def test_full_size_random_weights_on_gpu(name: str, size: str, steps: str):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    res, rec = _bench("--backend", name, "--random-weights", "--size", size, "--steps", steps, "--device", "cuda",
                      "--baseline", "stock", "--repeats", "1")
    assert res.exit_code == 0, res.output
    assert rec["dtype"] in ("bfloat16", "float16") and rec["ours"]["peak_memory_kind"] == "cuda_allocated"
    assert rec["baseline"]["steps"] == 50 and rec["ours"]["steps"] == int(steps) and "speedup_vs_stock" in rec


@pytest.mark.models
def test_bench_with_configured_weights(tmp_path: Path):
    import yaml

    from tests.tiny_models import tiny_settings

    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"backends": {"sdxs": tiny_settings("sdxs")}}))
    res, rec = _bench("--backend", "sdxs", "--config", str(cfg), "--size", "64x64", "--repeats", "1",
                      "--threads", "1", "--device", "cpu")
    assert res.exit_code == 0, res.output
    assert rec["random_weights"] is False and rec["ours"]["load_seconds"] > 0 and "baseline" not in rec
