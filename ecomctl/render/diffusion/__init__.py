"""Scene stage: diffusers render backends; importing this package registers them in ecomctl.render.BACKENDS
(torch/diffusers are imported only when a backend loads its pipeline)."""

from ecomctl.render.diffusion import composer, flux_fill, qwen_image, sdxl_inpaint, sdxs  # noqa: F401
