"""The QA check table (ecomctl/qa/registry.py): a check declared there alone is measured, validated, ordered
and given its report column; every check the code makes is declared; layout.margin grades like the rest."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from ecomctl.config import load_config
from ecomctl.errors import ConfigError
from ecomctl.qa import check_poster, registry
from ecomctl.qa.registry import CheckSpec, Limit, Measure, judge
from ecomctl.qa.report import label, report_rows
from ecomctl.qa.report_html import page_context
from ecomctl.qa.thresholds import thresholds
from ecomctl.types import Check, ItemResult
from tests._qa_posters import make_poster

PACKAGE = Path(__file__).resolve().parent.parent / "ecomctl"


@pytest.fixture
def logo_check(monkeypatch):
    """A new check, `layout.glow` (not a real one), added the way a newcomer would: its measurer in its own module and one
    table entry (with a Measure), nothing else."""
    module = types.ModuleType("ecomctl_logo_check")

    def measure(sample):
        return [judge("layout.glow", 0.4, sample.t, "glow legibility 0.40", 2)]

    module.measure = measure
    monkeypatch.setitem(sys.modules, module.__name__, module)
    spec = CheckSpec("layout.glow", "logo", "glow legibility", column=8,
                     warn=Limit("layout.glow_warn", 0.5, "glow warns below"), fail=Limit("layout.glow_fail", 0.2))
    checks = list(registry.CHECKS)
    checks.insert(checks.index(registry.spec("layout.contrast")) + 1, spec)
    monkeypatch.setattr(registry, "CHECKS", tuple(checks))
    monkeypatch.setattr(registry, "MEASURES", registry.MEASURES + (Measure("logo", module.__name__ + ":measure"),))
    return spec


def test_a_check_declared_only_in_the_table_is_configured_measured_and_shown(logo_check, tmp_path):
    t = thresholds({})
    assert (t.layout.glow_warn, t.layout.glow_fail) == (0.5, 0.2)  # its config fields, from the table
    assert thresholds({"layout": {"glow_warn": 0.6}}).layout.glow_warn == 0.6
    with pytest.raises(ConfigError, match=r"^config qa\.layout\.glow_fail: fail limit 0\.3 is above the warn limit 0\.1 \(a lower value is worse\)$"):
        thresholds({"layout": {"glow_warn": 0.1, "glow_fail": 0.3}})

    cfg = load_config(environ={}, overrides={"qa.text.enabled": False})
    result = check_poster(make_poster(), cfg)
    names = [c.name for c in result.checks]
    assert names.index("layout.glow") == names.index("layout.contrast") + 1  # in table order
    logo = result.checks[names.index("layout.glow")]
    assert (logo.status, logo.reason) == ("warn", "glow legibility 0.40 < 0.5")

    item = ItemResult(sku="S", variant=1, status=result.status, qa=result)
    ctx = page_context(report_rows([item], tmp_path), [item], tmp_path, t)
    columns = ctx["columns"]  # the sample poster's, in table order: glow's column=8 puts it after the overlap
    assert columns[:6] == ["subject.iou", "subject.psnr", "subject.ssim", "layout.contrast", "layout.overlap",
                           "layout.glow"]
    # the design metrics (informational) are their own, collapsed, column group
    assert ctx["design_columns"] == ["layout.ove", "layout.ali", "layout.und_l", "layout.und_s", "layout.uti",
                                     "layout.occ", "layout.rea"]
    assert "layout.glow" in report_rows([item], tmp_path)[0]["metrics"]  # report.csv's columns
    # its words, from the same entry: the reasons on the page and the terminal summary say them
    why = next(w for row in ctx["rows"] for w in row["why"] if w["name"] == "layout.glow")
    assert why["label"] == "glow legibility" and label("layout.glow") == "glow legibility"


def test_the_report_columns_keep_their_order():
    """The columns there are keep their order; a new check's column may come anywhere among them (this test
    is not one more file to edit when a check is added)."""
    kept = ["text.ned", "text.sen_acc", "subject.confidence", "subject.iou", "subject.psnr", "subject.ssim",
            "layout.contrast", "layout.overlap", "layout.ove", "layout.ali", "layout.und_l", "layout.und_s",
            "layout.uti", "layout.occ", "layout.rea", "variants.palette_de", "variants.phash",
            "style.campaign"]
    assert [c for c in registry.columns() if c in kept] == kept


def test_every_check_the_code_makes_is_declared():
    made = set()
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        made |= set(re.findall(r"\b(?:Check|judge|status)\(\"([a-z]+\.[a-z_]+)\"", text))
        made |= set(re.findall(r"^CHECK = \"([a-z]+\.[a-z_]+)\"", text, re.MULTILINE))
    declared = {s.name for s in registry.CHECKS}
    assert "style.campaign" in made and "layout.margin" in made
    assert made <= declared
    with pytest.raises(KeyError, match="not declared in ecomctl/qa/registry.py"):
        registry.order([Check("subject.iou", 1.0, "pass"), Check("made.up", 1.0, "pass")])


def test_every_measurer_and_limit_resolves():
    t = thresholds({})
    for m in registry.MEASURES:
        assert callable(m.load())
    for s in registry.CHECKS:
        assert s.measure in {m.name for m in registry.MEASURES}
        s.limits(t)  # every limit is a field of its section


@pytest.mark.parametrize(("margin", "verdict"), [(-0.01, "fail"), (0.0, "warn"), (0.019, "warn"), (0.02, "pass")])
def test_layout_margin_grades_through_the_table(margin, verdict):
    assert registry.status("layout.margin", margin, thresholds({})) == verdict


def test_the_grading_key_covers_every_measurer_module_the_table_names():
    from ecomctl.qa.grade import grading_code

    code = grading_code()
    for m in registry.MEASURES:
        path = m.function.partition(":")[0].removeprefix("ecomctl.").replace(".", "/") + ".py"
        assert path in code and (PACKAGE / path).is_file()
