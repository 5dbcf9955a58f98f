"""Backends as their model cards run them, without loading models: precision per GPU capability (SDXL's fp16
VAE and fp16 weight files with it), SDXL's aspect buckets, FLUX Fill's card preset."""

from __future__ import annotations

import math

import pytest

from ecomctl.render.diffusion import canvas
from ecomctl.render.diffusion.common import dtype_name
from ecomctl.render.diffusion.flux_fill import FluxFillSettings
from ecomctl.render.diffusion.sdxl_inpaint import SdxlInpaintBackend
from ecomctl.types import Size


@pytest.fixture
def gpu(monkeypatch):
    """A CUDA device of the given compute capability that (like torch on any recent GPU) reports bf16 support,
    emulated or not."""
    torch = pytest.importorskip("torch")

    def set_capability(major: int, minor: int) -> None:
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (major, minor))
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)

    return set_capability


@pytest.mark.parametrize("capability, expected", [((6, 1), "fp16"), ((7, 0), "fp16"), ((7, 5), "fp16"),
                                                  ((8, 0), "bf16"), ((8, 9), "bf16"), ((9, 0), "bf16")])
def test_auto_precision_is_bf16_only_on_native_bf16_gpus(gpu, capability, expected):
    gpu(*capability)
    assert dtype_name("auto", "cuda") == expected and dtype_name("auto", "cuda:1") == expected
    assert dtype_name("auto", "cpu") == "fp32"
    assert dtype_name("bf16", "cuda") == "bf16" and dtype_name("fp32", "cuda") == "fp32"  # explicit settings win


def test_sdxl_on_a_pre_ampere_gpu_loads_fp16_files_and_the_fp16_fix_vae(gpu):
    gpu(7, 5)  # a T4: fp16, SDXL's own VAE would overflow there
    b = SdxlInpaintBackend({}, "cuda")
    assert {n.key: repo for n, repo in b.needs()}["fp16_vae"] == "madebyollin/sdxl-vae-fp16-fix"
    assert b.describe()["dtype"] == "auto"  # not resolved before the pipeline loads (no CUDA init in a parent)
    assert b.run_dtype() == "fp16" and b.weight_variant() == "fp16"
    assert b.vae_key() == "fp16_vae" and b.supplied_components() == {"vae"}
    assert b.describe()["dtype"] == "fp16" and b.describe()["variant"] == "fp16"
    own = SdxlInpaintBackend({"vae": "my/vae"}, "cuda")  # a configured VAE is used in every precision
    assert own.vae_key() == "vae" and "fp16_vae" not in {n.key: r for n, r in own.needs()}


def test_sdxl_on_ampere_runs_bf16_with_its_own_vae_and_fp16_files(gpu):
    gpu(8, 6)
    b = SdxlInpaintBackend({}, "cuda")
    assert b.run_dtype() == "bf16" and b.weight_variant() == "fp16" and b.vae_key() is None
    assert b.supplied_components() == set()  # the base repo's VAE decodes in bf16
    # `models pull`/`check` run where the GPU is not asked: for `auto` they want the fp16 files and the VAE
    assert b.weight_variant(pulling=True) == "fp16"
    assert "fp16_vae" in {n.key: r for n, r in b.needs(pulling=True)}
    assert "fp16_vae" not in {n.key: r for n, r in SdxlInpaintBackend({"dtype": "bf16"}, "cuda").needs()}


def test_a_backend_on_cuda_is_checked_and_described_without_initialising_cuda(monkeypatch):
    """The runner checks and describes the backend in the parent before forking GPU workers: reading the compute
    capability there would initialise CUDA and break the forked workers."""
    torch = pytest.importorskip("torch")

    def no(*a, **k):
        raise AssertionError("CUDA initialised in the parent")

    monkeypatch.setattr(torch.cuda, "get_device_capability", no)
    b = SdxlInpaintBackend({}, "cuda:1")
    assert "fp16_vae" in {n.key: r for n, r in b.needs()} and b.describe()["dtype"] == "auto"
    assert b.describe()["variant"] == "auto" and b.weight_variant(pulling=True) == "fp16"


def test_sdxl_on_cpu_runs_fp32_from_the_full_precision_files():
    b = SdxlInpaintBackend({}, "cpu")
    assert b.run_dtype() == "fp32" and b.weight_variant() is None and b.vae_key() is None
    assert SdxlInpaintBackend({"variant": None, "dtype": "fp16"}, "cpu").weight_variant() is None  # variant off


def test_sdxl_buckets_are_the_trained_one_megapixel_sizes():
    buckets = canvas.SDXL_BUCKETS
    assert len(buckets) == 41 and len(set(buckets)) == 41 and Size(1024, 1024) in buckets
    assert all(b.w % 64 == 0 and b.h % 64 == 0 for b in buckets)
    assert all(0.9e6 < b.w * b.h < 1.1e6 for b in buckets)
    assert {(b.w, b.h) for b in buckets} == {(b.h, b.w) for b in buckets}  # landscape mirrors portrait
    for s in (Size(1344, 768), Size(1216, 832), Size(832, 1216), Size(768, 1344), Size(1344, 704)):
        assert s in buckets


@pytest.mark.parametrize("canvas_size, work", [
    (Size(1200, 628), Size(1344, 704)),  # banner: was 1024x512 (a 4.5 % stretch, 0.5 MP)
    (Size(1080, 1920), Size(768, 1344)),  # story: was 576x1024 (0.6 MP)
    (Size(1080, 1350), Size(896, 1152)),
    (Size(1024, 1024), Size(1024, 1024)),
    (Size(300, 300), Size(1024, 1024)),  # small canvases run at the trained size too, then are resized
])
def test_sdxl_working_size_is_the_nearest_bucket(canvas_size, work):
    b = SdxlInpaintBackend({}, "cpu")
    assert b.work_size(canvas_size) == work
    stretch = abs(math.log((work.w / work.h) / (canvas_size.w / canvas_size.h)))
    assert stretch < 0.033  # half the widest gap between neighbouring buckets (960x1024 | 1024x1024)


def test_sdxl_fit_sizing_keeps_long_side_fitting():
    b = SdxlInpaintBackend({"sizing": "fit", "max_side": 1024}, "cpu")
    assert b.work_size(Size(1200, 628)) == Size(1024, 512) and b.work_size(Size(1080, 1920)) == Size(576, 1024)


def test_flux_fill_runs_the_card_settings_by_default_and_fast_is_a_preset():
    card = FluxFillSettings()
    assert (card.preset, card.steps, card.guidance, card.max_sequence_length) == ("card", 50, 30.0, 512)
    fast = FluxFillSettings(preset="fast")
    assert (fast.steps, fast.guidance) == (28, 30.0)
    assert FluxFillSettings(preset="fast", steps=20).steps == 20  # a key the config sets wins
