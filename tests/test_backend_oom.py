"""GPU out-of-memory fallback of the diffusion backends: a batch that raises the OOM error is retried in halves,
then one item at a time; an item that does not fit alone becomes that variant's error row, the rest render."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ecomctl.errors import RenderError
from ecomctl.render.diffusion.common import DiffusionBackend
from ecomctl.types import Size
from tests.test_backend_common import _request

torch = pytest.importorskip("torch")


class OomBackend(DiffusionBackend):
    """No model: `generate` raises the OOM error whenever a call holds more than `fits` requests or the poisoned
    seed, and records the seeds of every call."""

    name = "oom-test"
    PIPELINE = "none"

    def __init__(self, fits: int = 8, poison: int | None = None, error: type[Exception] | None = None):
        super().__init__({"batch": 4, "harmonize": 0.0}, "cpu")
        self.fits, self.poison, self.calls = fits, poison, []
        self.error = error or torch.OutOfMemoryError

    def pipeline(self, work: Size | None = None) -> Any:
        return object()

    def generate(self, pipe: Any, batch: list, work: Size, gens: list) -> list:
        self.calls.append([r.seed for r in batch])
        if len(batch) > self.fits or any(r.seed == self.poison for r in batch):
            raise self.error("CUDA out of memory. Tried to allocate 2.00 GiB")
        return [Image.new("RGB", work.tuple, (40 * r.seed, 0, 0)) for r in batch]


def requests(n: int = 4) -> list:
    import dataclasses

    return [dataclasses.replace(_request(), seed=i, variant=i + 1) for i in range(n)]


def test_oom_batch_is_retried_in_halves():
    b = OomBackend(fits=2)
    scenes = b.render(requests())
    assert b.calls == [[0, 1, 2, 3], [0, 1], [2, 3]]
    assert [s.image.getpixel((0, 0))[0] for s in scenes] == [0, 40, 80, 120] and not any(s.error for s in scenes)


def test_oom_halves_then_single_items_then_that_items_error():
    b = OomBackend(poison=2)
    scenes = b.render(requests())
    assert b.calls == [[0, 1, 2, 3], [0, 1], [2, 3], [2], [3]]
    assert [s.image is None for s in scenes] == [False, False, True, False]
    assert scenes[2].error == ("oom-test: GPU out of memory at batch 1 (OutOfMemoryError: CUDA out of memory. "
                               "Tried to allocate 2.00 GiB)")


def test_runtime_error_saying_cuda_out_of_memory_counts_as_oom():
    b = OomBackend(fits=1, error=RuntimeError)
    assert all(s.image is not None for s in b.render(requests(2)))
    assert b.calls == [[0, 1], [0], [1]]


def test_other_errors_fail_the_batch_without_retries():
    class Broken(OomBackend):
        def generate(self, pipe, batch, work, gens):
            self.calls.append(len(batch))
            raise RuntimeError("shape mismatch")

    b = Broken()
    with pytest.raises(RenderError, match=r"^oom-test: RuntimeError: shape mismatch$"):
        b.render(requests())
    assert b.calls == [4]


def test_oom_variant_is_an_error_row_and_siblings_are_written(small_manifest: Path, fast_config: Path,
                                                              tmp_path: Path, monkeypatch):
    """Through `ecomctl render`: the variant that does not fit even alone is that item's error; the others are
    posters, and the run exits 1."""
    from typer.testing import CliRunner

    from ecomctl import render
    from ecomctl.cli import app

    class SecondVariantNeverFits(OomBackend):
        def generate(self, pipe, batch, work, gens):
            self.calls.append((batch[0].row.sku, [r.variant for r in batch]))
            if any(r.variant == 2 for r in batch):
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB")
            return [Image.new("RGB", work.tuple, (200, 180, 160)) for _ in batch]

    backend = SecondVariantNeverFits()
    render.load_builtins()
    monkeypatch.setitem(render.BACKENDS._items, "oom-test", lambda settings, device: backend)
    monkeypatch.setattr(render, "_CACHE", {})
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["render", str(small_manifest), "--out", str(out), "--config", str(fast_config),
                                   "--backend", "oom-test"])
    assert res.exit_code == 1, res.output
    assert backend.calls == [("A1", [1, 2]), ("A1", [1]), ("A1", [2]), ("B2", [1])]
    assert (out / "A1" / "A1-v1.png").is_file() and (out / "B2" / "B2-v1.png").is_file()
    assert not (out / "A1" / "A1-v2.png").exists()
    rows = {(r["sku"], r["variant"]): r for r in json.loads((out / "report.json").read_text())["items"]}
    assert rows[("A1", 2)]["status"] == "error"
    assert "GPU out of memory at batch 1" in rows[("A1", 2)]["error"]
    assert rows[("A1", 1)]["status"] != "error"


@pytest.mark.gpu
def test_real_cuda_oom_is_recognised():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    from ecomctl.render.diffusion.common import is_oom

    try:
        torch.empty(1 << 50, dtype=torch.uint8, device="cuda")  # 1 PiB: never fits
    except Exception as e:  # noqa: BLE001 — whatever torch raises here must count as out of memory
        assert is_oom(e)
    else:
        pytest.fail("allocated a petabyte")
