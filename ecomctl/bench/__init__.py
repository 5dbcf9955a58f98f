"""Benchmarks: random-weight pipelines (tiny or full size) timed stage by stage, as JSON (`ecomctl bench`)."""
