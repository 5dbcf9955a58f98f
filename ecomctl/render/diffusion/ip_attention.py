"""Scene stage, diffusion side: the IP-Adapter decoupled cross-attention with condition guidance and mask
guidance — training-free style consistency for UNet backends (imports torch; loaded only when enabled).

Each call holds groups of images per classifier-free-guidance half; the first image of a group is the style
reference, the others are targets. The decoupled cross-attention is out = Attn(Q, K_text, V_text) +
scale · Attn(Q, K_ip, V_ip). Condition guidance: a target's image K/V are replaced by its reference's, so the
target reads the reference's look through the image branch. Mask guidance: the target's own text
cross-attention to the subject tokens (softmaxed, head- and token-averaged, min-max normalised per image) is
thresholded; positions inside that mask keep the target's own image attention (the product's composition and
identity), positions outside take the guided one (the reference's style)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from ecomctl.render.diffusion import attn_io


@dataclass
class Guide:
    """State every guided layer shares for one pipeline call; the backend sets it before the call."""

    group: int = 1  # images per CFG half that share one reference (the first of each group); <2: no guidance
    condition: bool = True  # replace the targets' image K/V by the reference's
    mask: bool = True  # keep the targets' own image attention inside the subject mask
    threshold: float = 0.5  # on the normalised subject attention map
    tokens: list[list[int]] = field(default_factory=list)  # subject token positions, one list per group
    masks: dict[str, Any] = field(default_factory=dict)  # layer name → last mask (batch × queries), inspection


class GuidedIPAttnProcessor(torch.nn.Module):
    """Wraps a loaded diffusers IP-Adapter processor (its to_k_ip/to_v_ip weights and scales are used as they
    are) and adds condition and mask guidance; anything it does not handle goes to the wrapped processor."""

    def __init__(self, base: Any, guide: Guide, name: str, active: bool = True):
        super().__init__()
        self.base = base
        self.guide = guide
        self.name = name
        self.active = active  # a layer chosen by ip_layers; the others use their own image tokens only

    def __call__(self, attn: Any, hidden_states: Any, encoder_hidden_states: Any = None,
                 attention_mask: Any = None, temb: Any = None, scale: float = 1.0,
                 ip_adapter_masks: Any = None) -> Any:
        if not isinstance(encoder_hidden_states, tuple) or attention_mask is not None or ip_adapter_masks is not None:
            return self.base(attn, hidden_states, encoder_hidden_states, attention_mask, temb, scale,
                             ip_adapter_masks)
        text, ip_states = encoder_hidden_states
        hidden_states, residual, shape = attn_io.enter(attn, hidden_states, temb)
        if attn.norm_cross:
            text = attn.norm_encoder_hidden_states(text)
        b, n, _ = hidden_states.shape
        heads = attn.heads
        q = attn.to_q(hidden_states)
        k, v = attn.to_k(text), attn.to_v(text)
        d = k.shape[-1] // heads

        def split(t: Any) -> Any:
            return t.view(b, -1, heads, d).transpose(1, 2)  # b × H × tokens × d

        q, k, v = split(q), split(k), split(v)
        probs = torch.softmax((q @ k.transpose(-1, -2)) * d**-0.5, dim=-1)  # the text cross-attention map
        out = probs @ v
        for ip, ip_scale, to_k, to_v in zip(ip_states, self.base.scale, self.base.to_k_ip, self.base.to_v_ip):
            ip = own_tokens(ip)
            k_ip, v_ip = split(to_k(ip)), split(to_v(ip))
            out = out + ip_scale * self.image_attention(q, k_ip, v_ip, probs)
        out = out.transpose(1, 2).reshape(b, n, heads * d).to(q.dtype)
        return attn_io.leave(attn, out, residual, shape)

    def image_attention(self, q: Any, k_ip: Any, v_ip: Any, probs: Any) -> Any:
        """The image branch: own K/V without guidance; the reference's with condition guidance; inside the
        subject mask the target's own again when mask guidance is on."""
        g = self.guide
        own = F.scaled_dot_product_attention(q, k_ip, v_ip)
        b = q.shape[0]
        if not self.active or not g.condition or g.group < 2 or b % g.group:
            return own
        ref_k, ref_v = (_first_of_group(t, g.group) for t in (k_ip, v_ip))
        guided = F.scaled_dot_product_attention(q, ref_k, ref_v)
        if not g.mask:
            return guided
        keep = self.subject_mask(probs)
        g.masks[self.name] = keep
        return torch.where(keep[:, None, :, None], own, guided)

    def subject_mask(self, probs: Any) -> Any:
        """batch × queries, True where the image attends to its subject tokens above the threshold (never on
        the references, whose guided and own outputs are the same anyway)."""
        g = self.guide
        b, _, n, t = probs.shape
        maps = probs.mean(1)  # over heads: b × queries × text tokens
        keep = torch.zeros(b, n, dtype=torch.bool, device=probs.device)
        for row in range(b):
            group, pos = divmod(row, g.group)
            tokens = [i for i in (g.tokens[group % len(g.tokens)] if g.tokens else []) if i < t]
            if pos == 0 or not tokens:
                continue
            a = maps[row, :, tokens].mean(-1)
            a = (a - a.min()) / (a.max() - a.min()).clamp_min(1e-8)
            keep[row] = a > g.threshold
        return keep


def own_tokens(ip: Any) -> Any:
    """Each batch entry's own image tokens. diffusers repeats one set of image embeddings over the batch, so
    the backend hands in every image of the call for every entry (batch × images × tokens × dim, images in
    batch order per CFG half); entry r keeps image r mod images. 3-D states are already one set per entry."""
    if ip.ndim != 4:
        return ip
    b, n = ip.shape[:2]
    rows = torch.arange(b, device=ip.device)
    return ip[rows, rows % n]


def _first_of_group(t: Any, group: int) -> Any:
    """Each group's first entry, repeated over the group (b × H × N × d → same shape)."""
    shaped = t.view(t.shape[0] // group, group, *t.shape[1:])
    return shaped[:, :1].expand_as(shaped).reshape(t.shape)


def install(unet: Any, guide: Guide, layers: list[str] | None = None) -> list[str]:
    """Wrap every IP-Adapter processor; guidance runs in the layers whose names start with one of `layers`
    (all when None). Returns the guided layer names."""
    procs = unet.attn_processors
    ip_layers = [name for name, p in procs.items() if hasattr(p, "to_k_ip")]
    chosen = [name for name in ip_layers if layers is None or any(name.startswith(x) for x in layers)]
    unet.set_attn_processor({name: GuidedIPAttnProcessor(p, guide, name, name in chosen) if name in ip_layers
                             else p for name, p in procs.items()})
    return chosen
