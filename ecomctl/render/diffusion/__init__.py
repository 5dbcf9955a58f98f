"""Scene stage: diffusers render backends, one module each; ecomctl.render.load_builtins imports them from
its BUILTIN table, which registers them in ecomctl.render.BACKENDS (torch/diffusers are imported only when a
backend loads its pipeline)."""
