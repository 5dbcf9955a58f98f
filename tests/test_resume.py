"""Cost follows change: QA is its own step of the resume (a threshold change re-grades, never re-renders),
finished posters are trusted by the stat their sidecar recorded (hashed only when it differs or with
--verify), source photos are hashed only when their stat changed, and a no-op night dispatches nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from ecomctl.cli import app
from ecomctl.config import load_config
from ecomctl.engine import executors
from ecomctl.engine.runner import run_render
from ecomctl.feed import Feed
from ecomctl.store import files as store_files
from tests.conftest import counting_sidecar_writes, make_product

runner = CliRunner()


def _render(manifest: Path, out: Path, config: Path, *extra: str):
    return runner.invoke(app, ["render", str(manifest), "--out", str(out), "--config", str(config), *extra])


def _posters(out: Path) -> dict[str, tuple[int, int, int]]:
    """Every poster PNG (not its layers) with (inode, mtime_ns, size): a rewrite changes at least one."""
    found = {}
    for p in sorted(out.glob("*/*-v*.png")):
        if p.name.count(".") == 1:
            st = p.stat()
            found[p.name] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return found


def _sidecars(out: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(out.glob("*/*-v*.json"))}


def _with(config: Path, text: str) -> Path:
    path = config.parent / f"with-{abs(hash(text))}.yaml"
    path.write_text(config.read_text(encoding="utf-8") + text, encoding="utf-8")
    return path


def test_a_qa_threshold_change_regrades_every_poster_and_rewrites_none(small_manifest: Path, fast_config: Path,
                                                                        tmp_path: Path):
    out = tmp_path / "out"
    assert _render(small_manifest, out, fast_config).exit_code == 0
    before, sidecars = _posters(out), _sidecars(out)
    assert len(before) == 3 and all(d["qa"]["status"] == "pass" for d in sidecars.values())
    strict = _with(fast_config, "  layout:\n    contrast_warn: 100.0\n")  # no poster can reach it: all warn
    res = _render(small_manifest, out, strict)
    assert res.exit_code == 0, res.output
    for name in ("A1-v1", "A1-v2", "B2-v1"):  # each line: status, poster, "(re-graded)", then the reasons
        assert any(line.startswith(f"warn    {name} (re-graded)  ") for line in res.stdout.splitlines()), name
    assert "3 re-graded (QA settings or checks changed, poster kept)" in res.stdout
    assert "3 of them re-judged from stored measurements (only limits changed)" in res.stdout  # a limit only
    assert _posters(out) == before  # not one poster file written
    after = _sidecars(out)
    for name, d in after.items():
        assert d["qa"]["status"] == "warn" and d["key"] == sidecars[name]["key"]
        assert d["qa_key"] != sidecars[name]["qa_key"]
        assert any(c["name"] == "layout.contrast" and c["status"] == "warn" for c in d["qa"]["checks"])
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["summary"]["regraded"] == 3 and report["summary"]["status"]["warn"] == 3
    assert all(item["regraded"] for item in report["items"])
    again = _render(small_manifest, out, strict)  # the new verdicts are now current
    assert again.stdout.count("(unchanged)") == 3 and "re-graded" not in again.stdout
    back = _render(small_manifest, out, fast_config)  # and going back re-grades back
    assert back.stdout.count("(re-graded)") == 3 and "pass 3" in back.stdout and _posters(out) == before


def test_a_pixel_setting_change_still_rerenders(small_manifest: Path, fast_config: Path, tmp_path: Path):
    out = tmp_path / "out"
    assert _render(small_manifest, out, fast_config).exit_code == 0
    res = _render(small_manifest, out, fast_config, "--seed", "7")
    assert res.exit_code == 0 and "unchanged" not in res.stdout and "re-graded" not in res.stdout


def test_regrade_matches_ecomctl_qa_and_ecomctl_qa_marks_its_verdicts_current(small_manifest: Path,
                                                                              fast_config: Path, tmp_path: Path):
    out = tmp_path / "out"
    assert _render(small_manifest, out, fast_config).exit_code == 0
    strict = _with(fast_config, "  subject:\n    iou_warn: 1.01\n")
    assert runner.invoke(app, ["qa", str(out), "--config", str(strict), "-q"]).exit_code == 0
    by_qa = {n: d["qa"]["checks"] for n, d in _sidecars(out).items()}
    res = _render(small_manifest, out, strict)  # `ecomctl qa` graded with these settings: nothing to do
    assert res.stdout.count("(unchanged)") == 3, res.output
    assert _render(small_manifest, out, fast_config).stdout.count("(re-graded)") == 3
    res = _render(small_manifest, out, strict)
    assert res.stdout.count("(re-graded)") == 3
    assert {n: d["qa"]["checks"] for n, d in _sidecars(out).items()} == by_qa  # the same verdicts as `ecomctl qa`


def test_a_noop_night_hashes_no_poster_and_no_photo(small_manifest: Path, fast_config: Path, tmp_path: Path,
                                                    counted_digests: list[str]):
    out = tmp_path / "out"
    assert _render(small_manifest, out, fast_config).exit_code == 0
    counted_digests.clear()
    store_files._DIGESTS.clear()  # as a new process would be
    res = _render(small_manifest, out, fast_config)
    assert res.stdout.count("(unchanged)") == 3
    assert counted_digests == []
    counted_digests.clear()
    store_files._DIGESTS.clear()
    res = _render(small_manifest, out, fast_config, "--verify")  # --verify: every poster is read and hashed
    assert res.stdout.count("(unchanged)") == 3
    assert sorted(counted_digests) == ["A1-v1.png", "A1-v2.png", "B2-v1.png"]


def test_a_touched_photo_is_hashed_once_and_then_trusted_again(small_manifest: Path, fast_config: Path,
                                                                tmp_path: Path, counted_digests: list[str]):
    out = tmp_path / "out"
    assert _render(small_manifest, out, fast_config).exit_code == 0
    photo = small_manifest.parent / "a.png"
    st = photo.stat()
    os.utime(photo, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # same bytes, new mtime
    counted_digests.clear()
    store_files._DIGESTS.clear()
    res = _render(small_manifest, out, fast_config)
    assert res.stdout.count("(unchanged)") == 3
    assert counted_digests == ["a.png"]  # read once (not once per variant), found equal
    counted_digests.clear()
    store_files._DIGESTS.clear()
    assert _render(small_manifest, out, fast_config).stdout.count("(unchanged)") == 3
    assert counted_digests == []  # its new stat was recorded


def test_a_changed_photo_of_the_same_size_and_mtime_is_found_with_verify_only_for_posters(
        small_manifest: Path, fast_config: Path, tmp_path: Path):
    """The stat rule's documented limit, and --verify as its answer: a poster whose bytes changed while its
    size, mtime and inode were kept (a deliberate `touch -d`) is trusted until --verify hashes it."""
    out = tmp_path / "out"
    assert _render(small_manifest, out, fast_config).exit_code == 0
    poster = out / "B2" / "B2-v1.png"
    good, st = poster.read_bytes(), poster.stat()
    with open(poster, "r+b") as f:  # in place: same inode
        f.seek(len(good) - 1)
        f.write(bytes([good[-1] ^ 0xFF]))
    os.utime(poster, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert _render(small_manifest, out, fast_config).stdout.count("(unchanged)") == 3
    res = _render(small_manifest, out, fast_config, "--verify")
    assert "pass    B2-v1" in res.stdout.splitlines() and poster.read_bytes() == good


def test_a_copied_folder_is_hashed_once_then_trusted(small_manifest: Path, fast_config: Path, tmp_path: Path,
                                                      counted_digests: list[str]):
    """Moving OUT to another disk changes every inode and mtime: each poster is hashed once, found equal, its
    new stat recorded — no re-render, and the night after costs stats only."""
    import shutil

    out = tmp_path / "out"
    assert _render(small_manifest, out, fast_config).exit_code == 0
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)  # copy2: new inodes
    counted_digests.clear()
    res = _render(small_manifest, moved, fast_config)
    assert res.stdout.count("(unchanged)") == 3
    assert sorted(n for n in counted_digests if n.endswith(("-v1.png", "-v2.png"))) == [
        "A1-v1.png", "A1-v2.png", "B2-v1.png"]
    counted_digests.clear()
    store_files._DIGESTS.clear()
    assert _render(small_manifest, moved, fast_config).stdout.count("(unchanged)") == 3
    assert counted_digests == []


def test_a_copied_folder_and_photos_rewrite_each_sidecar_once(small_manifest: Path, fast_config: Path,
                                                               tmp_path: Path, monkeypatch):
    """OUT copied with the photos (new inodes and mtimes for both): the first night records each poster's new
    stat and its photo's in one write of its sidecar (was two: the poster's, then the photo's), and the
    next night trusts both without hashing or writing anything."""
    import shutil

    out = tmp_path / "out"
    assert _render(small_manifest, out, fast_config).exit_code == 0
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    for photo in ("a.png", "b.png"):  # the photos' bytes stay, their stat changes (as a copy does)
        path = small_manifest.parent / photo
        path.write_bytes(path.read_bytes())
    writes = counting_sidecar_writes(monkeypatch)
    store_files._DIGESTS.clear()
    res = _render(small_manifest, moved, fast_config)
    assert res.stdout.count("(unchanged)") == 3
    assert sorted(writes) == ["A1-v1.json", "A1-v2.json", "B2-v1.json"]
    sidecars = _sidecars(moved)
    for name, d in sidecars.items():
        poster = moved / d["sku"] / d["image"]
        photo = small_manifest.parent / ("a.png" if d["sku"] == "A1" else "b.png")
        assert [d["poster"]["mtime_ns"], d["poster"]["ino"]] == [poster.stat().st_mtime_ns, poster.stat().st_ino]
        assert d["inputs"]["image_stat"] == store_files.stat_key(photo), name
    writes.clear()
    assert _render(small_manifest, moved, fast_config).stdout.count("(unchanged)") == 3
    assert writes == []


def test_a_brand_row_on_a_noop_night_trusts_its_logo_and_photo_by_stat(tmp_path: Path, counted_digests: list[str]):
    """A row with a logo and selling points: the night after its render reads neither the logo nor the photo
    (both trusted from the sidecar by stat), and renders and re-grades nothing."""
    import shutil

    from tests.conftest import ROOT, write_manifest

    make_product(tmp_path / "a.png")
    shutil.copy(ROOT / "manifests" / "assets" / "logos" / "bebamom.png", tmp_path / "logo.png")
    manifest = write_manifest(tmp_path / "m.csv", [
        {"sku": "L1", "image": "a.png", "title": "Travel Mug", "price": "$24", "list_price": "$30",
         "logo": "logo.png", "points": "Keeps hot 12 h|Leak-proof", "size": "512x512", "variants": "2"}])
    cfg = load_config(None, {"run.out": str(tmp_path / "out"), "qa.text.enabled": False})
    assert run_render(manifest, cfg).exit_code == 0
    counted_digests.clear()
    store_files._DIGESTS.clear()  # a new process, as the next night is
    again = run_render(manifest, cfg)
    assert again.resumed == 2 and again.regraded == 0
    assert counted_digests == []


def test_a_noop_night_dispatches_nothing(small_manifest: Path, tmp_path: Path, monkeypatch):
    """Finished SKUs are judged in the main process: no pool, worker or actor is asked about them."""
    cfg = load_config(None, {"run.out": str(tmp_path / "out"), "qa.text.enabled": False})
    first = run_render(small_manifest, cfg)
    assert first.exit_code == 0
    dispatched: list[str] = []
    real = executors._executor

    def spy(kind, rows, ctx):
        rows = list(rows)  # the feed, waited for (a local photo: already there)
        dispatched.extend(r.sku for r in rows)
        return real(kind, Feed(rows), ctx)

    monkeypatch.setattr(executors, "_executor", spy)
    again = run_render(small_manifest, cfg)
    assert again.resumed == 3 and dispatched == []
    make_product(small_manifest.parent / "b.png", (420, 300))  # one photo changed: only its SKU goes out
    third = run_render(small_manifest, cfg)
    assert dispatched == ["B2"] and third.resumed == 2


def test_the_grading_key_follows_grading_settings_and_code_not_report_or_thread_settings(monkeypatch):
    from ecomctl.qa import grade

    base = grade.grading_key(load_config(None, {}))
    assert grade.grading_key(load_config(None, {"qa.report.thumb_px": 99, "ocr.threads": 3})) == base
    assert grade.grading_key(load_config(None, {"qa.layout.contrast_warn": 4.0})) != base
    assert grade.grading_key(load_config(None, {"ocr.min_score": 0.6})) != base
    code = grade.grading_code()
    assert "qa/grade.py" in code and "qa/__init__.py" not in code  # report code
    assert {"qa/checks.py", "qa/text.py", "qa/variants.py"} <= set(code)  # the table's measurer modules
    monkeypatch.setattr(grade, "_CODE_DIGEST", "another version of the checks")
    assert grade.grading_key(load_config(None, {})) != base


def test_a_noop_night_after_a_noop_night_keeps_its_reports(small_manifest: Path, fast_config: Path,
                                                             tmp_path: Path):
    """The reports are rewritten when their content changes (a render, the first night that finds every
    poster unchanged, a new threshold, a file gone), and kept as they are when it does not."""
    out = tmp_path / "out"
    reports = [out / "report.json", out / "report.csv", out / "report.html"]

    def stamps():
        return [(p.stat().st_ino, p.stat().st_mtime_ns) for p in reports]

    assert _render(small_manifest, out, fast_config).exit_code == 0
    first = stamps()
    assert _render(small_manifest, out, fast_config).stdout.count("(unchanged)") == 3
    second = stamps()  # now every row says "unchanged": new reports
    assert all(a != b for a, b in zip(first, second))
    data = json.loads(reports[0].read_text(encoding="utf-8"))
    assert data["summary"]["resumed"] == 3
    assert _render(small_manifest, out, fast_config).stdout.count("(unchanged)") == 3
    assert stamps() == second  # nothing changed: not one report written
    reports[2].unlink()
    assert _render(small_manifest, out, fast_config).exit_code == 0 and reports[2].is_file()
    third = stamps()
    lenient = _with(fast_config, "  layout:\n    contrast_fail: 1.5\n")  # same verdicts, other thresholds
    res = _render(small_manifest, out, lenient)
    assert res.stdout.count("(re-graded)") == 3
    assert all(a != b for a, b in zip(third, stamps()))
    assert json.loads(reports[0].read_text(encoding="utf-8"))["thresholds"]["layout"]["contrast_fail"] == 1.5


def test_reports_are_kept_only_when_every_result_was_resumed(tmp_path: Path):
    """Rows that read the same (same figures, same seconds to the ms) after a render still rewrite the
    reports: the posters, and so the thumbnails, may be new. Only an all-unchanged night keeps them."""
    from dataclasses import replace as with_

    from ecomctl.qa import write_reports
    from ecomctl.types import ItemResult

    cfg = load_config(None, {})
    rendered = [ItemResult(sku=f"S{i}", variant=1, status="pass", seconds=0.05) for i in range(3)]
    assert write_reports(tmp_path, rendered, cfg) is True
    assert write_reports(tmp_path, rendered, cfg) is True  # rendered again: written again
    resumed = [with_(r, resumed=True) for r in rendered]
    assert write_reports(tmp_path, resumed, cfg) is True  # the rows now say "unchanged": new content
    stamp = (tmp_path / "report.html").stat().st_mtime_ns, (tmp_path / "report.html").stat().st_ino
    assert write_reports(tmp_path, resumed, cfg) is False  # nothing changed: kept
    assert ((tmp_path / "report.html").stat().st_mtime_ns, (tmp_path / "report.html").stat().st_ino) == stamp


def _two_templates_manifest(tmp_path: Path) -> Path:
    """A1 takes its shape's templates (split-left, podium); B2 pins split-right, which no A1 variant uses."""
    from tests.conftest import write_manifest

    make_product(tmp_path / "a.png")
    make_product(tmp_path / "b.png", (400, 300))
    return write_manifest(tmp_path / "m.csv", [
        {"sku": "A1", "image": "a.png", "title": "保湿面霜 长效锁水", "subtitle": "Deep hydration",
         "price": "¥99", "badge": "新品", "size": "512x512", "variants": "2", "template": ""},
        {"sku": "B2", "image": "b.png", "title": "Travel Mug", "subtitle": "Keeps coffee hot for 12 h",
         "price": "$24", "size": "banner", "variants": "1", "template": "split-right"},
    ])


def _new_release(monkeypatch, name: str) -> None:
    """A release whose layout code places template `name`'s copy differently: its copy regions end higher
    (every composition of it: plain, rich, tall, wide). The planner itself runs unpatched."""
    from dataclasses import replace

    from ecomctl.text import layout

    def moved(t):
        if t is None:
            return None
        regions = tuple(replace(r, box=(r.box[0], r.box[1], r.box[2], r.box[3] * 0.8)) for r in t.regions)
        return replace(t, regions=regions, rich=moved(t.rich), rich_tall=moved(t.rich_tall), tall=moved(t.tall),
                       wide=moved(t.wide))

    monkeypatch.setitem(layout.TEMPLATES, name, moved(layout.TEMPLATES[name]))


def test_replan_rerenders_exactly_the_skus_whose_layout_this_code_plans_differently(tmp_path: Path, monkeypatch):
    """--replan after an upgrade: each finished poster's layout is planned again and compared with its
    sidecar's; only the SKU laid out differently renders again, the rest are kept; without --replan the
    upgrade re-renders nothing (code is not in the render key) and a night dispatches nothing."""
    manifest = _two_templates_manifest(tmp_path)
    cfg = load_config(None, {"run.out": str(tmp_path / "out"), "qa.text.enabled": False, "run.executor": "serial"})
    assert run_render(manifest, cfg).exit_code == 0
    out = tmp_path / "out"
    before, sidecars = _posters(out), _sidecars(out)
    assert [d["layout"]["template"] for d in sidecars.values()] == ["split-left", "podium", "split-right"]
    same = run_render(manifest, cfg, replan=True)  # the same code: every plan equals its stored layout
    assert [(r.resumed, r.replanned, r.layout_changed) for r in same.results] == [(True, True, False)] * 3
    assert _posters(out) == before

    _new_release(monkeypatch, "split-right")
    dispatched: list[str] = []
    real = executors._executor

    def spy(kind, rows, ctx):
        rows = list(rows)
        dispatched.extend(r.sku for r in rows)
        return real(kind, Feed(rows), ctx)

    monkeypatch.setattr(executors, "_executor", spy)
    plain = run_render(manifest, cfg)  # without --replan: nothing dispatched, nothing re-rendered
    assert plain.resumed == 3 and dispatched == [] and _posters(out) == before
    replanned = run_render(manifest, cfg, replan=True)
    assert dispatched == ["A1", "B2"]  # every SKU goes to a worker, which plans it again
    assert replanned.replanned == 3 and replanned.layout_changed == 1 and replanned.resumed == 2
    changed = {f"{r.sku}-v{r.variant}" for r in replanned.results if r.layout_changed}
    assert changed == {"B2-v1"}
    after = _posters(out)
    assert {n for n in after if after[n] != before[n]} == {"B2-v1.png"}
    stored = _sidecars(out)["B2-v1.json"]["layout"]
    assert stored["lines"] != sidecars["B2-v1.json"]["layout"]["lines"]  # the new plan is what was drawn
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["summary"]["replanned"] == 3 and report["summary"]["layout_changed"] == 1
    assert "3 re-planned, 1 re-rendered (layout changed)" in (out / "report.html").read_text(encoding="utf-8")
    dispatched.clear()
    settled = run_render(manifest, cfg, replan=True)  # the new layout is now the stored one
    assert settled.layout_changed == 0 and settled.resumed == 3 and _posters(out) == after
    assert run_render(manifest, cfg).resumed == 3 and dispatched == ["A1", "B2"]


def test_replan_renders_every_variant_of_a_sku_with_one_changed_layout(tmp_path: Path, monkeypatch):
    """The variants of a SKU are rendered and graded together (the variant checks compare them): one changed
    layout (A1-v2, podium) renders the SKU's two posters; B2 is kept."""
    manifest = _two_templates_manifest(tmp_path)
    cfg = load_config(None, {"run.out": str(tmp_path / "out"), "qa.text.enabled": False, "run.executor": "serial"})
    assert run_render(manifest, cfg).exit_code == 0
    _new_release(monkeypatch, "podium")
    summary = run_render(manifest, cfg, replan=True)
    assert {(r.sku, r.variant, r.layout_changed) for r in summary.results} == {
        ("A1", 1, True), ("A1", 2, True), ("B2", 1, False)}
    assert summary.resumed == 1 and summary.replanned == 3
