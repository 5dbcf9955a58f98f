"""docs/architecture.md stays true (every path it names exists), each shared rule has one definition, only
the store builds paths inside OUT, and test fixtures stay out of the runtime package."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "ecomctl"
DOC = ROOT / "docs" / "architecture.md"


def _sources() -> dict[str, str]:
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in sorted(PACKAGE.rglob("*.py"))}


def _named_paths(text: str) -> set[str]:
    """Every `code` span that looks like a path of ours: ecomctl/…, tests/…, docs/…, or a module under ecomctl."""
    spans = re.findall(r"`([^`]+)`", text)
    return {s.rstrip("/") for s in spans
            if re.fullmatch(r"[\w./]+(\.py|\.yaml|\.md|/)?", s) and "/" in s and not s.startswith("OUT/")}


def test_every_package_and_module_the_architecture_page_names_exists():
    names = _named_paths(DOC.read_text(encoding="utf-8"))
    assert len(names) > 30  # the tables are there
    missing = []
    for name in sorted(names):
        for base in (ROOT, PACKAGE):  # `engine/item.py` means ecomctl/engine/item.py
            if (base / name).exists():
                break
        else:
            missing.append(name)
    assert missing == []


def test_every_top_level_package_is_in_the_ownership_table():
    table = DOC.read_text(encoding="utf-8").split("## Who owns what", 1)[1]
    packages = [p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()]
    assert [p for p in packages if f"`ecomctl/{p}/`" not in table] == []


@pytest.mark.parametrize(("pattern", "home"), [
    (r"^def (contrast|luminance|contrast_ratios|relative_luminance)\(", "ecomctl/text/colour.py"),
    (r"^def iou\(", "ecomctl/qa/metrics.py"),
    (r"^def offline\(", "ecomctl/weights.py"),
    (r"^INSTALL_HINT\s*=", "ecomctl/weights.py"),
    (r"^IMAGE_SUFFIXES\s*=", "ecomctl/io.py"),
    (r"^def exit_code\(", "ecomctl/outcome.py"),
    (r"^STATUS_(COLOURS|ORDER)\s*=", "ecomctl/outcome.py"),
    (r"^\s*(_COLOUR|_STYLE)\s*=\s*\{", None),  # no private status→colour maps left anywhere
    (r"\"error\":\s*\"(red|magenta)\"", "ecomctl/outcome.py"),
    (r"BarColumn\(", "ecomctl/cli/common.py"),
    (r"^def atomic_write_bytes\(|mkstemp\(", "ecomctl/store/files.py"),
    (r"0\.0392|0\.04045", "ecomctl/text/colour.py"),  # the sRGB linearisation threshold
])
def test_each_shared_rule_has_one_definition(pattern: str, home: str | None):
    where = sorted(path for path, text in _sources().items() if re.search(pattern, text, re.MULTILINE))
    assert where == ([home] if home else [])


OUT_NAMES = (r"report\.(html|json|csv)[\"']", r"[\"']run\.yaml[\"']", r"\.(subject|bg|cutout|under)\.png",
             r"[\"']logs[\"']", r"[\"']\.cache[\"']", r"\.ecomctl\.lock")


def test_only_the_store_names_files_inside_out():
    # subject/catalog.py names the files of `ecomctl extract --out DIR`, its own folder (not a render OUT);
    # qa/summary.py only tells the reader to "see report.html"; bench/env.py names ~/.cache/huggingface
    allowed = {"ecomctl/subject/catalog.py", "ecomctl/qa/summary.py", "ecomctl/bench/env.py"}
    offenders = {path for path, text in _sources().items() for pat in OUT_NAMES
                 if re.search(pat, text) and not path.startswith("ecomctl/store/") and path not in allowed}
    assert offenders == set()


def test_fixtures_live_outside_the_runtime_package():
    assert not (PACKAGE / "subject" / "backdrops.py").exists() and not (PACKAGE / "dataset" / "synth.py").exists()
    assert (ROOT / "tests" / "backdrops.py").is_file() and (ROOT / "tests" / "synth_posters.py").is_file()
    importers = [p for p, text in _sources().items() if re.search(r"^\s*(from|import) tests\b", text, re.MULTILINE)]
    assert importers == []


def test_typesetter_and_qa_measure_contrast_with_the_same_function():
    import numpy as np

    from ecomctl.qa import checks
    from ecomctl.text import colour, typeset

    assert checks.contrast_ratio is colour.contrast
    grey = np.full((4, 4, 3), 10.2, np.float64)  # between the two thresholds that used to disagree
    assert colour.luminance(grey)[0, 0] == pytest.approx(colour.luminance((10.2, 10.2, 10.2)))
    from PIL import Image

    from ecomctl.types import Box

    img = Image.new("RGB", (20, 20), (118, 118, 118))
    assert typeset.worst_contrast(img, Box(0, 0, 20, 20), (255, 255, 255)) == pytest.approx(
        colour.contrast((255, 255, 255), (118, 118, 118)))


def test_config_models_repeat_no_default_of_defaults_yaml():
    import yaml

    from ecomctl.config import Config

    defaults = yaml.safe_load((PACKAGE / "defaults.yaml").read_text(encoding="utf-8"))
    assert set(defaults) == set(Config.model_fields)
    for name, field in Config.model_fields.items():
        assert field.is_required(), name
        model = field.annotation
        if isinstance(model, type) and hasattr(model, "model_fields"):
            assert set(model.model_fields) == set(defaults[name]), name  # every key has its one default
            assert [k for k, f in model.model_fields.items() if not f.is_required()] == [], name


def test_typed_sections_are_resolved_once_per_config():
    from ecomctl.config import load_config
    from ecomctl.qa import ocr_settings
    from ecomctl.qa.thresholds import thresholds

    cfg = load_config(overrides={"qa.subject.iou_warn": 0.99})
    assert thresholds(cfg) is thresholds(cfg) and thresholds(cfg).subject.iou_warn == 0.99
    assert ocr_settings(cfg) is ocr_settings(cfg)
    import pickle

    again = pickle.loads(pickle.dumps(cfg))  # what a worker process receives
    assert thresholds(again).subject.iou_warn == 0.99
