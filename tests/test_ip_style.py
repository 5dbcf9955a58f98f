"""IP-Adapter style consistency on tiny UNets: the adapter and its CLIP image encoder are saved in
h94/IP-Adapter's layout and loaded back through diffusers' load_ip_adapter; a hooked cross-attention layer
proves condition guidance (targets use the reference's image K/V), mask guidance (only positions outside the
thresholded subject mask change) and that the target differs with guidance off."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from ecomctl.types import SkuRow
from tests.test_backend_models import request
from tests.tiny_models import ip_adapter, tiny_settings

pytest.importorskip("diffusers")
pytestmark = pytest.mark.models
LAYER = "down_blocks.1.attentions.0.transformer_blocks.0.attn2"


def styled(name: str = "sdxs", **over):
    from ecomctl.render import BACKENDS, load_builtins

    load_builtins()
    b = BACKENDS.get(name)({**tiny_settings(name), **ip_adapter(name), **over}, "cpu")
    assert b.unavailable() is None
    return b


def mug_request(seed: int = 3, variant: int = 1):
    """The test request with its subject named, so the prompt ("a mug, …") holds the subject's tokens."""
    r = request(seed=seed, variant=variant)
    return dataclasses.replace(r, row=SkuRow(sku="T1", image=Path("p.png"), title="Mug", size=r.size, subject="mug"))


def capture(b, requests):
    """Render and keep the inputs and output of the first call of the hooked layer (one denoising step)."""
    attn = b.pipeline().unet.get_submodule(LAYER)
    seen: dict = {}

    def pre(module, args, kwargs):
        if "hs" not in seen:
            seen["hs"], seen["ehs"] = args[0].clone(), kwargs["encoder_hidden_states"]

    def post(module, args, kwargs, out):
        if "out" not in seen:
            seen["out"] = out.clone()

    handles = [attn.register_forward_pre_hook(pre, with_kwargs=True),
               attn.register_forward_hook(post, with_kwargs=True)]
    try:
        scenes = b.render(requests)
    finally:
        for h in handles:
            h.remove()
    return attn, seen, scenes


def stock(attn, seen, image_tokens):
    """diffusers' own IP-Adapter processor on the captured inputs with the given image tokens."""
    import torch

    text, _ = seen["ehs"]
    with torch.no_grad():
        return attn.processor.base(attn, seen["hs"], (text, [image_tokens]))


def tokens(seen):
    from ecomctl.render.diffusion.ip_attention import _first_of_group, own_tokens

    own = own_tokens(seen["ehs"][1][0])
    return own, _first_of_group(own, 2)


@pytest.mark.parametrize("name", ["sdxs", "sdxl-inpaint"])
def test_condition_guidance_uses_the_references_image_kv(name: str):
    """Batch = [reference, target]: the hooked layer's output equals stock decoupled cross-attention fed the
    reference's image tokens for both rows, and differs for the target from stock with its own tokens."""
    import torch

    b = styled(name, ip_mask_guidance=False)
    attn, seen, _ = capture(b, [mug_request()])
    own, ref = tokens(seen)
    assert seen["hs"].shape[0] == 2 and not torch.equal(own[0], own[1])  # two rows, two different images
    assert torch.allclose(seen["out"], stock(attn, seen, ref), atol=1e-5)
    unguided = stock(attn, seen, own)
    assert torch.allclose(seen["out"][0], unguided[0], atol=1e-5)  # the reference reads itself either way
    assert not torch.allclose(seen["out"][1], unguided[1], atol=1e-3)


def test_mask_guidance_changes_only_positions_outside_the_subject_mask():
    import torch

    b = styled("sdxs", ip_mask_threshold=0.5)
    attn, seen, _ = capture(b, [mug_request()])
    proc, guide = attn.processor, b._ip
    keep = guide.masks[proc.name]
    target = keep[1]
    assert 0 < int(target.sum()) < target.numel() and not keep[0].any()  # a real mask on the target only
    with torch.no_grad():
        masked = proc(attn, seen["hs"], seen["ehs"])
        guide.condition = False
        off = proc(attn, seen["hs"], seen["ehs"])
        guide.condition, guide.mask = True, False
        full = proc(attn, seen["hs"], seen["ehs"])
    assert torch.allclose(masked, seen["out"], atol=1e-6)  # the hooked call was the masked one
    inside, outside = target, ~target
    assert torch.allclose(masked[1][inside], off[1][inside], atol=1e-6)  # inside: the target's own output
    assert torch.allclose(masked[1][outside], full[1][outside], atol=1e-6)  # outside: the guided one
    assert not torch.allclose(masked[1][outside], off[1][outside], atol=1e-4)  # … which is a change
    assert torch.allclose(masked[0], off[0], atol=1e-6)  # the reference is untouched


def test_with_guidance_off_the_target_differs_and_runs_stay_deterministic():
    reqs = [mug_request(seed=3), mug_request(seed=4, variant=2)]
    guided = styled("sdxs").render(reqs)
    again = styled("sdxs").render(reqs)
    off = styled("sdxs", ip_condition_guidance=False).render(reqs)
    for g, a, o in zip(guided, again, off):
        g, a, o = (np.asarray(s.image, dtype=np.int16) for s in (g, a, o))
        assert np.array_equal(g, a)
        assert np.abs(g - o).max() > 8


def test_layers_setting_limits_guidance_and_describe_reports_it():
    b = styled("sdxs", ip_layers=["up_blocks"], ip_scale=0.8)
    b.render([mug_request()])
    procs = {n: p for n, p in b.pipeline().unet.attn_processors.items() if hasattr(p, "guide")}
    assert {n for n, p in procs.items() if p.active} == {n for n in procs if n.startswith("up_blocks")}
    assert all(p.base.scale == [0.8] for p in procs.values())
    assert b.describe()["knobs"]["style_ip"] == {"layers": 2, "scale": 0.8, "condition": True, "mask": True}


def test_style_ip_with_style_share_or_without_repo_is_a_config_error():
    from ecomctl.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^config backends\.sdxs\.style_share: use style_share or style_ip"):
        styled("sdxs", style_share=True).pipeline()
    with pytest.raises(ConfigError, match=r"^config backends\.sdxs\.ip_layers: no IP-Adapter layer"):
        styled("sdxs", ip_layers=["nowhere"]).pipeline()


@pytest.mark.gpu
def test_style_ip_on_gpu_matches_the_guided_path():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    from ecomctl.render import BACKENDS, load_builtins

    load_builtins()
    settings = {**tiny_settings("sdxl-inpaint"), **ip_adapter("sdxl-inpaint")}
    on = BACKENDS.get("sdxl-inpaint")(settings, "cuda").render([mug_request()])[0]
    off = BACKENDS.get("sdxl-inpaint")({**settings, "ip_condition_guidance": False}, "cuda").render([mug_request()])[0]
    assert np.abs(np.asarray(on.image, dtype=np.int16) - np.asarray(off.image, dtype=np.int16)).max() > 8
