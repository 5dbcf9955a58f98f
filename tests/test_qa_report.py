"""Report writers: report.json (schema ecomctl.report/1), report.csv (formula-safe), report.html (escaped)."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image
from rich.console import Console

from ecomctl.cli.summary import summary_table
from ecomctl.config import load_config
from ecomctl.qa import write_reports
from ecomctl.qa.report import safe_cell
from ecomctl.types import Check, ItemResult, QAResult

EVIL = '<script>alert("x")</script>'


def sample_results(out: Path) -> list[ItemResult]:
    """Four items: pass, fail (hostile strings), warn, error; images on disk for thumbnails."""
    items = []
    specs = [("GOOD-1", "pass", (40, 120, 200)), (EVIL, "fail", (200, 40, 40)), ("=cmd|' /C calc'!A0", "warn", (90, 90, 90))]
    for sku, status, colour in specs:
        folder = out / "x"
        folder.mkdir(parents=True, exist_ok=True)
        png = folder / f"{len(items)}-v1.png"
        Image.new("RGB", (300, 200), colour).save(png)
        checks = (Check("text.ned", 1.0 if status == "pass" else 0.62, "pass" if status == "pass" else "fail",
                        "" if status == "pass" else f'title line 1 "{EVIL}" read as "=SUM(A1)" (NED 0.62)'),
                  Check("subject.iou", 0.998, "pass"),
                  Check("layout.margin", -0.01, "fail" if status == "fail" else "pass"))
        lines = {"text": {"lines": [{"label": "title line 1", "text": EVIL, "read": "=SUM(A1)", "ned": 0.62,
                                     "exact": False, "box": [0, 0, 1, 1]}]}}
        qa = QAResult(status, checks, lines)  # type: ignore[arg-type]
        items.append(ItemResult(sku=sku, variant=1, status=status, image=png, sidecar=folder / f"{len(items)}-v1.json",
                                qa=qa, seconds=1.5, where="m.csv:2"))
    items[0] = replace(items[0], resumed=True)
    items.append(ItemResult(sku="BROKEN", variant=None, status="error", error="m.csv:5: cannot read image broken.png", where="m.csv:5"))
    return items


@pytest.fixture
def written(tmp_path):
    results = sample_results(tmp_path)
    write_reports(tmp_path, results, load_config(environ={}))
    return tmp_path, results


def test_json_report_schema_order_and_summary(written):
    out, _ = written
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["schema"] == "ecomctl.report/1"
    assert data["thresholds"]["text"]["line_ned_fail"] == 0.8 and "report" not in data["thresholds"]
    assert [i["status"] for i in data["items"]] == ["error", "fail", "warn", "pass"]  # failures first
    assert data["summary"]["status"] == {"error": 1, "fail": 1, "warn": 1, "pass": 1, "skipped": 0}
    ned = data["summary"]["metrics"]["text.ned"]
    assert ned["n"] == 3 and ned["fail"] == 2 and ned["min"] == 0.62 and ned["max"] == 1.0
    item = data["items"][1]
    assert item["sku"] == EVIL and item["image"] == "x/1-v1.png" and item["sidecar"] == "x/1-v1.json"
    assert item["reasons"][0].startswith("title line 1") and item["metrics"]["subject.iou"] == 0.998
    assert data["items"][0]["reasons"] == ["m.csv:5: cannot read image broken.png"]
    assert [i["resumed"] for i in data["items"]] == [False, False, False, True]
    assert item["text_lines"] == [{"label": "title line 1", "text": EVIL, "read": "=SUM(A1)", "ned": 0.62,
                                   "exact": False}]


def test_csv_neutralises_formulas(written):
    out, _ = written
    with open(out / "report.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    by_status = {r["status"]: r for r in rows}
    assert by_status["warn"]["sku"] == "'=cmd|' /C calc'!A0"
    assert by_status["fail"]["layout.margin"] == "-0.01"  # numbers stay numbers
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "@")) or value == "", value
    assert [r["status"] for r in rows] == ["error", "fail", "warn", "pass"]


@pytest.mark.parametrize("raw, safe", [("=1+1", "'=1+1"), ("+49 30", "'+49 30"), ("-x", "'-x"),
                                       ("@SUM(A1)", "'@SUM(A1)"), ("\tcmd", "'\\x09cmd"), ("ok", "ok"),
                                       ("a\x1b[31mb\x07", "a\\x1b[31mb\\x07"), ("x\u202ey", "x\\u202ey"),
                                       (-0.5, -0.5), (None, None)])
def test_safe_cell(raw, safe):
    assert safe_cell(raw) == safe


def test_html_is_self_contained_and_escaped(written):
    out, _ = written
    html = (out / "report.html").read_text(encoding="utf-8")
    assert EVIL not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert '<table class="items" id="items">' in html
    assert html.count('src="data:image/jpeg;base64,') == 3  # one inlined thumbnail per image
    assert 'href="./x/1-v1.png"' in html and 'href="./x/1-v1.json"' in html
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org", "")  # no external assets
    assert html.index("BROKEN") < html.index("GOOD-1")  # failures first
    assert "line_ned_fail: 0.8" in html  # the thresholds are shown
    assert html.count(">unchanged</div>") == 1
    assert html.count("<summary>text read (1 line)</summary>") == 3


@pytest.mark.parametrize("path, href", [("javascript:alert(1)/a-v1.png", "./javascript%3Aalert%281%29/a-v1.png"),
                                        ("A#1/A#1-v1.png", "./A%231/A%231-v1.png"), ("../x.png", "../x.png"),
                                        (None, "")])
def test_links_cannot_become_a_scheme(path, href):
    from ecomctl.qa.report_html import link

    assert link(path) == href


def test_thumbnails_are_capped_failures_first(tmp_path):
    write_reports(tmp_path, sample_results(tmp_path), load_config(environ={}, overrides={"qa.report.max_thumbs": 2}))
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert html.count('src="data:image/jpeg;base64,') == 1  # the error row has no image; the fail row keeps its
    assert html.index("data:image/jpeg") < html.index("GOOD-1")


def test_html_with_no_items(tmp_path):
    write_reports(tmp_path, [], load_config(environ={}))
    assert "No items." in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_summary_table_lists_failures_with_reasons(tmp_path):
    console = Console(record=True, width=200)
    console.print(summary_table(sample_results(tmp_path)))
    text = console.export_text()
    assert "QA: 4 items — 1 error 1 fail 1 warn 1 pass" in text
    assert EVIL in text and "title line 1" in text and "GOOD-1" not in text
    # the checks that warned or failed, in words; the clean ones in one line (subject.iou passed everywhere)
    assert "text.ned (copy read back (NED))" in text and "layout.margin (copy margin)" in text
    assert "subject.iou" not in text and "1 other check passed on every poster" in text


def test_every_declared_check_has_its_words_in_its_table_entry():
    from ecomctl.qa import registry
    from ecomctl.qa.report import label

    for s in registry.CHECKS:  # the words live in the check's one entry: no second table to forget
        assert s.label.strip() and s.label != s.name and label(s.name) == s.label
    assert label("made.up") == "made.up"


def test_large_run_html_lists_every_problem_and_caps_passes(tmp_path):
    """A 100k-poster night must still give a page a browser opens: passes are capped, problems never."""
    from ecomctl.config import load_config
    from ecomctl.qa import write_reports
    from ecomctl.types import Check, ItemResult, QAResult

    def item(i: int, status: str) -> ItemResult:
        qa = QAResult(status, (Check("text.ned", 1.0 if status == "pass" else 0.5, status,
                                     "" if status == "pass" else f"title line 1 of S{i} misread"),))
        return ItemResult(sku=f"S{i:04d}", variant=1, status=status, qa=qa, seconds=0.1, where=f"m.csv:{i + 2}")

    results = [item(i, "fail" if i % 50 == 0 else "pass") for i in range(300)]
    cfg = load_config(None, {"qa.report.max_rows": 20})
    write_reports(tmp_path, results, cfg)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert html.count("misread") >= 6  # all six failures listed
    assert "280 more passing items are not listed here" in html  # 300 - (6 problems + 14 passes shown)
    assert len((tmp_path / "report.csv").read_text(encoding="utf-8").splitlines()) == 301


def test_html_opens_with_what_is_safe_to_publish_and_what_to_look_at(written):
    out, _ = written
    html = (out / "report.html").read_text(encoding="utf-8")
    head = html.split("<main>", 1)[0]
    assert "2 of 4 not safe to publish" in head  # fail + error
    boxes = [" ".join(b.split()) for b in re.findall(r'<a class="box b-\w+[^>]*>(.*?)</a>', head)]
    assert boxes == ["<b>1</b> safe to publish<small>passed every check</small>",
                     "<b>1</b> look first<small>warned: publishable after a look</small>",
                     "<b>2</b> do not publish<small>1 failed QA · 1 error</small>"]
    look = head.split("What to look at", 1)[1]
    assert look.index("1 error</span>: not made or not checked") < look.index("text.ned") < look.index("layout.margin")  # most failures first
    assert 'data-q="text.ned">copy read back (NED) <code>text.ned</code></a>: <span class="t-fail">2 fail</span>' in look


def test_each_row_says_why_in_words_before_the_figures(written):
    out, _ = written
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.index(">why</th>") < html.index('title="text.ned: ')  # the reasons are not pushed off the page
    row = html.split('data-status="fail"', 1)[1].split("</tr>", 1)[0]
    why = re.findall(r'<li class="w-(\w+)"><b>([^<]+)</b>', row)
    assert why == [("fail", "copy read back (NED)"), ("fail", "copy margin")]
    assert "(warns below 1, fails below 0.8)" in row  # the limits the verdict used, from the run's thresholds
    broken = html.split('data-status="error"', 1)[1].split("</tr>", 1)[0]
    assert '<b>error</b>: m.csv:5: cannot read image broken.png' in broken
    good = html.split('data-status="pass"', 1)[1].split("</tr>", 1)[0]
    assert "every check passed" in good


def design_results(out: Path) -> list[ItemResult]:
    """Two posters with the design metrics, one of which gave up copy (layout.dropped warns)."""
    design = {"layout.val": 1.0, "layout.ove": 0.0, "layout.ali": 0.0002, "layout.und_l": 1.0, "layout.und_s": 1.0,
              "layout.uti": 0.16, "layout.occ": 0.0, "layout.rea": 0.007}
    items = []
    for i, dropped in enumerate((None, "points[2:], subtitle")):
        checks = [Check("text.ned", 1.0, "pass"), *(Check(k, v + i / 100, "pass") for k, v in design.items())]
        if dropped:
            checks.append(Check("layout.dropped", 2.0, "warn", f"the canvas could not hold all of the copy: dropped "
                                                             f"{dropped} (lowest priority first)"))
        status = "warn" if dropped else "pass"
        items.append(ItemResult(sku=f"D{i}", variant=1, status=status, qa=QAResult(status, tuple(checks)),
                                seconds=0.1, where=f"m.csv:{i + 2}"))
    return items


def test_design_metrics_are_summarised_against_real_posters_and_their_columns_collapsed(tmp_path):
    from ecomctl.qa.report_html import DESIGN

    write_reports(tmp_path, design_results(tmp_path), load_config(environ={}))
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    head = html.split("<main>", 1)[0]
    design = {m[0]: m[1:] for m in re.findall(r'<code>(layout\.\w+)</code></td><td class="n">([^<]*)</td>'
                                               r'<td class="n mm">[^<]*</td><td class="n">(.*?)</td></tr>', head)}
    assert list(design) == list(DESIGN)
    assert design["layout.uti"] == ("0.165", "0.225 · 0.199")  # mean of 0.16 and 0.17; PosterO's PKU · CGL
    assert design["layout.occ"][1] == "0.124 · 0.134" and design["layout.und_s"][1] == "1 · 1"
    assert design["layout.ove"][1] == design["layout.rea"][1] == '<span class="meta">none published</span>'
    # per-row design columns exist (sortable, in the DOM) but are hidden until asked for
    assert html.count('<td class="num dm"') == 2 * 7 and 'table.items:not(.show-dm) .dm { display: none; }' in html
    assert 'id="dm"' in html and "design metrics (7 columns)" in html
    # they are not among the check cards: the checks that warned come first, the clean ones fold away
    cards = html.split("<main>", 1)[1].split('<h2 id="items-h">', 1)[0]
    assert "layout.uti" not in cards and cards.index("layout.dropped") < cards.index("passed on every poster")
    row = html.split('data-status="warn"', 1)[1].split("</tr>", 1)[0]
    assert "<b>copy dropped</b> 2 <code>layout.dropped</code>: the canvas could not hold all of the copy: " \
           "dropped points[2:], subtitle" in row


def test_real_poster_figures_are_the_published_ones():
    """The header's reference values are the ones docs/layout-metrics.md quotes, and only those."""
    from ecomctl.qa.report_html import REAL_POSTERS

    doc = (Path(__file__).resolve().parent.parent / "docs" / "layout-metrics.md").read_text(encoding="utf-8")
    pku = re.search(r"\| PKU PosterLayout \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", doc)
    cgl = re.search(r"\| CGL \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", doc)
    names = ("layout.und_l", "layout.und_s", "layout.uti", "layout.occ")
    assert REAL_POSTERS == {n: (float(a), float(b)) for n, a, b in zip(names, pku.groups(), cgl.groups(), strict=True)}
