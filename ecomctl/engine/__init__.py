"""Engine: runs the per-item stages over a manifest with resume, executors and per-item error capture."""
