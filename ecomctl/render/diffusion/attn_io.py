"""Scene stage, diffusion side: the input/output framing every custom attention processor shares
(spatial/group norm, 4-D feature maps flattened to tokens and back, residual, output rescale), as in
diffusers' own AttnProcessor2_0, so a processor only writes its attention."""

from __future__ import annotations

from typing import Any


def enter(attn: Any, hidden_states: Any, temb: Any) -> tuple[Any, Any, tuple[int, ...] | None]:
    """Normalised tokens (b × n × c), the residual, and the 4-D shape to restore (None for token input)."""
    residual = hidden_states
    if attn.spatial_norm is not None:
        hidden_states = attn.spatial_norm(hidden_states, temb)
    shape = tuple(hidden_states.shape) if hidden_states.ndim == 4 else None
    if shape is not None:
        b, c, h, w = shape
        hidden_states = hidden_states.view(b, c, h * w).transpose(1, 2)
    if attn.group_norm is not None:
        hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
    return hidden_states, residual, shape


def leave(attn: Any, hidden: Any, residual: Any, shape: tuple[int, ...] | None) -> Any:
    """Output projection, back to the input's shape, residual and rescale."""
    hidden = attn.to_out[1](attn.to_out[0](hidden))
    if shape is not None:
        hidden = hidden.transpose(-1, -2).reshape(*shape)
    if attn.residual_connection:
        hidden = hidden + residual
    return hidden / attn.rescale_output_factor
