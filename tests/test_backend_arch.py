"""The full-size random-weight architectures `ecomctl bench --scale full` times match the published models'
parameter counts (built on the meta device: no memory, no download)."""

from __future__ import annotations

import pytest

pytest.importorskip("diffusers")
pytestmark = pytest.mark.models

# billions of parameters of the published checkpoints
PUBLISHED = {
    "sdxl-inpaint": {"unet": 2.567, "text_encoder": 0.123, "text_encoder_2": 0.695, "controlnet": 1.251},
    "sdxs": {"unet": 0.318, "text_encoder": 0.340},
    "qwen-image": {"transformer": 20.43, "text_encoder": 8.29, "vae": 0.127},
    "flux-fill": {"transformer": 11.90, "text_encoder": 0.123, "text_encoder_2": 4.762},
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_full_architecture_matches_published_size(name: str):
    import torch

    from ecomctl.bench.arch import BUILDERS

    with torch.device("meta"):
        parts = BUILDERS[name]("full")
    for part, billions in PUBLISHED[name].items():
        count = sum(p.numel() for p in parts[part].parameters()) / 1e9
        assert count == pytest.approx(billions, rel=0.01), part
    tables = [v for v in vars(parts["scheduler"]).values() if isinstance(v, torch.Tensor)]
    assert tables and all(t.device.type == "cpu" for t in tables)  # scheduler tables stay real, on the CPU


def test_build_random_places_modules_in_dtype_and_restores_defaults():
    import torch

    from ecomctl.bench.run import build_random

    parts = build_random("sdxs", "full", "meta", torch.bfloat16)
    assert {p.dtype for p in parts["unet"].parameters()} == {torch.bfloat16}
    assert next(parts["text_encoder"].parameters()).device.type == "meta"
    assert parts["scheduler"].alphas_cumprod.dtype == torch.float32  # tables built outside the bf16 context
    assert torch.get_default_dtype() == torch.float32
