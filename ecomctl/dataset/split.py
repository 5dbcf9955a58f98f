"""SKU-grouped train/bench split (deterministic, no SKU on both sides) and sibling style pairing."""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from typing import Any


def bench_target(n_samples: int, bench_size: int, bench_fraction: float) -> int:
    """Bench size: `bench_size` for big corpora, at most ceil(fraction × samples) for small ones."""
    return min(bench_size, math.ceil(bench_fraction * n_samples))


def assign_split(skus: list[str], bench_size: int, bench_fraction: float, seed: int) -> dict[str, str]:
    """sku → 'train' | 'bench'. Whole SKUs go to the bench in a seeded hash order until it is full."""
    counts = Counter(skus)
    target = bench_target(len(skus), bench_size, bench_fraction)
    order = sorted(counts, key=lambda k: hashlib.sha1(f"{seed}:{k}".encode()).hexdigest())
    split = {k: "train" for k in counts}
    taken = 0
    for sku in order[:-1]:  # the last SKU in the order always stays in train
        if taken >= target:
            break
        split[sku] = "bench"
        taken += counts[sku]
    return split


def pair_siblings(rows: list[dict[str, Any]]) -> None:
    """Give each sample the style image of its most similar sibling (same group and split), in place.

    InnoComposer pairs visually similar images of one SKU; similarity here is the style images'
    perceptual-hash distance (ties broken by sample id). Samples without siblings keep their own style.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["group"], r["split"])].append(r)
    for members in groups.values():
        for r in members:
            others = [o for o in members if o["id"] != r["id"]]
            if not others:
                continue
            best = min(others, key=lambda o: (_hamming(o["style_phash"], r["style_phash"]), o["id"]))
            r["style_ref"], r["style_ref_id"] = best["style"], best["id"]


def _hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()
