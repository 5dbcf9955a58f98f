"""Scene stage, diffusion side: shared self-attention (StyleAligned-style) so the variants rendered in one
batch share the first variant's look — every image also attends to the reference image's keys/values,
with its queries and keys AdaIN-matched to the reference's statistics. UNet backends only."""

from __future__ import annotations

from typing import Any

from ecomctl.render.diffusion import attn_io


def _adain(x: Any, ref: Any, eps: float = 1e-5) -> Any:
    """Match x's per-channel mean/std over tokens to ref's (x: groups×n×H×N×D, ref: groups×1×H×N×D)."""
    mu, sd = x.mean(-2, keepdim=True), x.std(-2, keepdim=True) + eps
    rmu, rsd = ref.mean(-2, keepdim=True), ref.std(-2, keepdim=True) + eps
    return (x - mu) / sd * rsd + rmu


class SharedStyleProcessor:
    """Self-attention where each image of a group also sees the group's first image. `group` is the number
    of images per classifier-free-guidance half; the backend sets it before every pipeline call."""

    def __init__(self, adain: bool = True):
        from diffusers.models.attention_processor import AttnProcessor2_0

        self.base = AttnProcessor2_0()
        self.adain = adain
        self.group = 1

    def __call__(self, attn: Any, hidden_states: Any, encoder_hidden_states: Any = None,
                 attention_mask: Any = None, temb: Any = None, *args: Any, **kwargs: Any) -> Any:
        b = hidden_states.shape[0]
        if encoder_hidden_states is not None or attention_mask is not None or self.group < 2 or b % self.group:
            return self.base(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        return self._shared(attn, hidden_states, temb)

    def _shared(self, attn: Any, hidden_states: Any, temb: Any) -> Any:
        import torch
        import torch.nn.functional as F

        hidden_states, residual, shape = attn_io.enter(attn, hidden_states, temb)
        b, n, _ = hidden_states.shape
        q, k, v = attn.to_q(hidden_states), attn.to_k(hidden_states), attn.to_v(hidden_states)
        d = k.shape[-1] // attn.heads
        g = b // self.group
        q, k, v = (t.view(g, self.group, n, attn.heads, d).transpose(2, 3) for t in (q, k, v))  # g×n×H×N×D
        if attn.norm_q is not None:
            q, k = attn.norm_q(q), attn.norm_k(k)
        if self.adain:
            q, k = _adain(q, q[:, :1]), _adain(k, k[:, :1])
        ref_k, ref_v = (t[:, :1].expand_as(t) for t in (k, v))
        k, v = torch.cat([k, ref_k], dim=-2), torch.cat([v, ref_v], dim=-2)
        out = F.scaled_dot_product_attention(*(t.reshape(b, attn.heads, -1, d) for t in (q, k, v)))
        out = out.transpose(1, 2).reshape(b, n, attn.heads * d).to(q.dtype)
        return attn_io.leave(attn, out, residual, shape)


def install(unet: Any, adain: bool = True) -> SharedStyleProcessor:
    """Put one shared processor on every self-attention layer (attn1) of a UNet; cross-attention unchanged."""
    shared = SharedStyleProcessor(adain)
    procs = unet.attn_processors
    unet.set_attn_processor({name: shared if name.endswith("attn1.processor") else proc
                             for name, proc in procs.items()})
    return shared
