"""Hostile manifests, images, YAML, styles and dataset inputs, one table: each case asserts the exit code,
the exact first line of the message, no traceback, the good rows of a mixed manifest finished, and
nothing written outside --out (a validation error writes nothing at all)."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from ecomctl.cli import app
from tests.conftest import make_product

runner = CliRunner()
FAST = "qa:\n  text:\n    enabled: false\nrender:\n  variants: 1\n  size: 256x256\n"
HEAD = "sku,image,title\n"
GOOD = "OK,p.png,Good\n"


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Path], list[str]]  # writes the inputs into the folder, returns the CLI arguments
    code: int
    first: str  # exact first line of stderr (exit 2) or stdout; {tmp} is the case folder
    finished: tuple[str, ...] = ()  # files under out/ that must exist: the good rows were rendered
    check: Callable[[Path], None] | None = None  # extra look at the outputs


# ---------------------------------------------------------------------------------------------- builders

def _product(tmp: Path, name: str = "p.png") -> None:
    make_product(tmp / name, (200, 260))


def _write(tmp: Path, name: str, text: str | bytes) -> Path:
    path = tmp / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def validate(manifest: str, text: str | bytes, *files: tuple[str, str | bytes]) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        _product(tmp)
        for name, content in files:
            _write(tmp, name, content)
        return ["validate", str(_write(tmp, manifest, text))]
    return build


def render(manifest: str, text: str | bytes, *files: tuple[str, str | bytes], config: str = FAST
           ) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        _product(tmp)
        for name, content in files:
            _write(tmp, name, content)
        cfg = _write(tmp, "fast.yaml", config)
        return ["render", str(_write(tmp, manifest, text)), "--out", str(tmp / "out"), "--config", str(cfg)]
    return build


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(w: int = 30000, h: int = 30000) -> bytes:
    """A valid PNG header announcing w×h pixels and almost no data: what a decompression bomb looks like."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b""))
            + _chunk(b"IEND", b""))


def truncated_png(tmp: Path) -> bytes:
    make_product(tmp / "whole.png", (200, 260))
    data = (tmp / "whole.png").read_bytes()
    (tmp / "whole.png").unlink()
    return data[: len(data) // 2]


def with_bad_image(name: str, content: Callable[[Path], bytes] | bytes, text: str) -> Callable[[Path], list[str]]:
    """A render manifest whose first row's photo is hostile and whose second row is fine."""
    def build(tmp: Path) -> list[str]:
        _write(tmp, name, content(tmp) if callable(content) else content)
        return render("m.csv", text)(tmp)
    return build


def rotated_jpeg(tmp: Path) -> None:
    """A portrait product photo stored sideways with EXIF Orientation 6, as phones write it."""
    make_product(tmp / "upright.png", (300, 400), alpha=False)
    upright = Image.open(tmp / "upright.png").convert("RGB")
    (tmp / "upright.png").unlink()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    upright.transpose(Image.Transpose.ROTATE_90).save(tmp / "phone.jpg", quality=95, exif=exif.tobytes())


def exif_render(tmp: Path) -> list[str]:
    rotated_jpeg(tmp)
    return render("m.csv", "sku,image,title\nPHONE,phone.jpg,Upright\n")(tmp)


def exif_extract(tmp: Path) -> list[str]:
    rotated_jpeg(tmp)
    _write(tmp, "m.csv", "sku,image,title\nPHONE,phone.jpg,Upright\n")
    return ["extract", str(tmp / "m.csv"), "--out", str(tmp / "out"), "--method", "classical"]


def billion_laughs(tail: str) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(ord("b"), ord("j") + 1):
        lines.append(f"{chr(i)}: &{chr(i)} [" + ",".join(["*" + chr(i - 1)] * 9) + "]")
    return "\n".join(lines) + "\n" + tail


def dataset(*extra: str, metadata: bytes | None = None) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        (tmp / "posters").mkdir()
        make_product(tmp / "posters" / "a.png", (300, 300), alpha=False)
        args = ["dataset", "build", str(tmp / "posters"), "-o", str(tmp / "out"), *extra]
        if metadata is not None:
            args += ["--metadata", str(_write(tmp, "meta.csv", metadata))]
        return args
    return build


def _qa_out(tmp: Path, run_yaml: str) -> list[str]:
    (tmp / "out").mkdir()
    _write(tmp, "out/run.yaml", run_yaml)
    return ["qa", str(tmp / "out")]


def styles(content: str | bytes) -> Callable[[Path], list[str]]:
    return validate("m.csv", HEAD + GOOD, ("styles.yaml", content))


def config(content: str) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        _product(tmp)
        _write(tmp, "m.csv", HEAD + GOOD)
        return ["validate", str(tmp / "m.csv"), "--config", str(_write(tmp, "c.yaml", content))]
    return build


# ---------------------------------------------------------------------------------------------- checks

def _sidecar(tmp: Path, sku: str) -> dict:
    return json.loads((tmp / "out" / sku / f"{sku}-v1.json").read_text(encoding="utf-8"))


def title_lines(*expected: str) -> Callable[[Path], None]:
    """The title was typeset as these lines, in this order (a forced break is a real line break)."""
    def check(tmp: Path) -> None:
        side = _sidecar(tmp, "A")
        assert side["inputs"]["title"] == "\n".join(expected)
        got = [ln["text"] for ln in side["layout"]["lines"] if ln["role"] == "title"]
        assert got == list(expected)
    return check


def ocr_read_lines(*expected: str) -> Callable[[Path], None]:
    """QA's OCR re-read each forced line of the title exactly (the break is a line, not a lost space)."""
    def check(tmp: Path) -> None:
        lines = _sidecar(tmp, "A")["qa"]["details"]["text"]["lines"]
        title = [(d["text"], d["read"], d["exact"]) for d in lines if d["role"] == "title"]
        assert title == [(t, t, True) for t in expected]
    return check


def upright_mask(tmp: Path) -> None:
    assert Image.open(tmp / "out" / "PHONE" / "PHONE.mask.png").size == (300, 400)  # portrait, as displayed


def no_raw_controls(tmp: Path) -> None:
    for name in ("report.csv", "report.html"):
        text = (tmp / "out" / name).read_text(encoding="utf-8")
        assert "\x1b" not in text and "\\x1b" in text, name


# ---------------------------------------------------------------------------------------------- the table

M = "{tmp}/m.csv"
Y = "{tmp}/m.yaml"
CASES = [
    # CSV: line breaks inside quoted cells are kept as forced line breaks
    Case("csv-quoted-newline-kept", render("m.csv", 'sku,image,title\nA,p.png,"Night\nSerum"\n'), 0,
         "pass    A-v1", ("A/A-v1.png",), title_lines("Night", "Serum")),
    Case("csv-quoted-newline-read-back-by-ocr-qa",
         render("m.csv", 'sku,image,title\nA,p.png,"Night\nSerum"\n', config="render:\n  variants: 1\n  size: 512x512\n"),
         0, "pass    A-v1", ("A/A-v1.png",), ocr_read_lines("Night", "Serum")),
    Case("csv-quoted-crlf-kept", render("m.csv", 'sku,image,title\r\nA,p.png,"Night\r\nSerum"\r\n'), 0,
         "pass    A-v1", ("A/A-v1.png",), title_lines("Night", "Serum")),
    Case("csv-u2028-is-a-line-break", render("m.csv", "sku,image,title\nA,p.png,\"Night\u2028Serum\"\n"), 0,
         "pass    A-v1", ("A/A-v1.png",), title_lines("Night", "Serum")),
    Case("csv-u2029-is-a-line-break", validate("m.csv", "sku,image,title\nA,p.png,\"a\u2029b\"\nB,p.png,c\n"), 0,
         "{tmp}/m.csv: ok — 2 SKUs, 4 posters"),
    Case("csv-row-after-multiline-cell-keeps-its-line", validate("m.csv", 'sku,image,title\nA,p.png,"a\nb"\nB,x.png,c\n'),
         2, f"error: {M}:4:2: image: file not found: x.png"),
    Case("csv-unbalanced-quote-swallows-nothing", validate("m.csv", HEAD + 'A,p.png,"Night\nB,p.png,t\n'), 2,
         f'error: {M}:2:1: cannot read this row: a quoted cell opened on this row is never closed (unbalanced ")'),
    Case("csv-text-after-closing-quote", validate("m.csv", HEAD + GOOD + 'B,p.png,"5"" tall"x\n'), 2,
         f'error: {M}:3:1: cannot read this row: text after the closing quote of a cell; write a quote inside a '
         'quoted cell as ""'),
    Case("csv-giant-cell", validate("m.csv", HEAD + "A,p.png," + "x" * 200_000 + "\n"), 2,
         f"error: {M}:2:1: cannot read this row: field larger than field limit (131072)"),
    Case("csv-form-feed", validate("m.csv", 'sku,image,title\nA,p.png,"Night\fSerum"\n'), 2,
         f"error: {M}:2:3: title: control character U+000C (form feed) at character 6; remove it"),
    Case("csv-vertical-tab", validate("m.csv", 'sku,image,title\nA,p.png,"Night\vSerum"\n'), 2,
         f"error: {M}:2:3: title: control character U+000B (vertical tab) at character 6; remove it"),
    Case("csv-nel", validate("m.csv", "sku,image,title\nA,p.png,\"a\x85b\"\n"), 2,
         f"error: {M}:2:3: title: control character U+0085 (NEL) at character 2; remove it"),
    Case("csv-esc", validate("m.csv", "sku,image,title\nA,p.png,\x1b[31mRed\n"), 2,
         f"error: {M}:2:3: title: control character U+001B (ESC) at character 1; remove it"),
    Case("csv-bel-in-subtitle", validate("m.csv", "sku,image,title,subtitle\nA,p.png,t,ding\x07\n"), 2,
         f"error: {M}:2:4: subtitle: control character U+0007 (BEL) at character 5; remove it"),
    Case("csv-nul-in-price", validate("m.csv", "sku,image,title,price\nA,p.png,t,9\x009\n"), 2,
         f"error: {M}:2:4: price: control character U+0000 (NUL) at character 2; remove it"),
    Case("csv-c1-csi-in-badge", validate("m.csv", "sku,image,title,badge\nA,p.png,t,\x9b2J\n"), 2,
         f"error: {M}:2:4: badge: control character U+009B at character 1; remove it"),
    Case("csv-tab-in-title", validate("m.csv", "sku,image,title\nA,p.png,\"a\tb\"\n"), 2,
         f"error: {M}:2:3: title: control character U+0009 (tab) at character 2; remove it"),
    Case("csv-esc-in-sku", validate("m.csv", "sku,image,title\nA\x1b,p.png,t\n"), 2,
         f"error: {M}:2:1: sku: control character U+001B (ESC) at character 2; remove it"),
    Case("csv-esc-in-image-not-echoed", validate("m.csv", "sku,image,title\nA,p\x1b.png,t\n"), 2,
         f"error: {M}:2:2: image: control character U+001B (ESC) at character 2; remove it"),
    Case("csv-newline-in-sku", validate("m.csv", 'sku,image,title\n"A\nB",p.png,t\n'), 2,
         f"error: {M}:2:1: sku: line break at character 2; only title, subtitle and prompt may span lines"),
    Case("csv-newline-in-price", validate("m.csv", 'sku,image,title,price\nA,p.png,t,"9\n9"\n'), 2,
         f"error: {M}:2:4: price: line break at character 2; only title, subtitle and prompt may span lines"),
    Case("csv-title-four-lines", validate("m.csv", 'sku,image,title\nA,p.png,"a\nb\nc\nd"\n'), 2,
         f"error: {M}:2:3: title: 4 lines; at most 3 (each line break in the cell starts a new line)"),
    Case("csv-subtitle-three-lines", validate("m.csv", 'sku,image,title,subtitle\nA,p.png,t,"a\nb\nc"\n'), 2,
         f"error: {M}:2:4: subtitle: 3 lines; at most 2 (each line break in the cell starts a new line)"),
    Case("csv-duplicate-column", validate("m.csv", "sku,image,title,title\nA,p.png,one,two\n"), 2,
         f"error: {M}:1:4: duplicate column 'title' (first in column 3)"),
    Case("csv-duplicate-column-ignoring-case", validate("m.csv", "sku,Image,image,title\nA,p.png,q.png,t\n"), 2,
         f"error: {M}:1:3: duplicate column 'image' (first in column 2)"),
    # 0x81 then a line end: no GB18030 character, and a byte Windows-1252 leaves undefined
    Case("csv-not-utf8", validate("m.csv", b"sku,image,title\nA,p.png,caf\x81\n"), 2,
         f"error: {M}: not UTF-8 text (byte 0x81 at offset 27), nor UTF-16, GB18030 or Windows-1252; save the "
         "manifest as UTF-8"),
    Case("csv-size-over-limit", validate("m.csv", "sku,image,title,size\nA,p.png,t,9000x9000\n"), 2,
         f"error: {M}:2:4: size: bad size '9000x9000': each side must be 256..4096 px"),
    Case("csv-size-zero", validate("m.csv", "sku,image,title,size\nA,p.png,t,0x0\n"), 2,
         f"error: {M}:2:4: size: bad size '0x0': each side must be 256..4096 px"),
    Case("csv-image-path-too-long", validate("m.csv", f"sku,image,title\nA,{'x' * 5000}.png,t\n"), 2,
         f"error: {M}:2:2: image: cannot use this path: File name too long"),
    # SKU names that would collide with the run's own files or with each other
    Case("sku-report-html", validate("m.csv", HEAD + "report.html,p.png,t\n"), 2,
         f"error: {M}:2:1: sku: 'report.html' is reserved: OUT/report.html is written by the run itself; "
         "rename the SKU"),
    Case("sku-run-yaml-any-case", validate("m.csv", HEAD + "Run.YAML,p.png,t\n"), 2,
         f"error: {M}:2:1: sku: 'Run.YAML' is reserved: OUT/Run.YAML is written by the run itself; rename the SKU"),
    Case("sku-report-csv", validate("m.csv", HEAD + "report.csv,p.png,t\n"), 2,
         f"error: {M}:2:1: sku: 'report.csv' is reserved: OUT/report.csv is written by the run itself; "
         "rename the SKU"),
    Case("sku-logs", validate("m.csv", HEAD + "logs,p.png,t\n"), 2,
         f"error: {M}:2:1: sku: 'logs' is reserved: OUT/logs is written by the run itself; rename the SKU"),
    Case("sku-windows-device", validate("m.csv", HEAD + "COM1,p.png,t\n"), 2,
         f"error: {M}:2:1: sku: 'COM1' is a reserved device name on Windows; rename the SKU"),
    Case("sku-case-collision", validate("m.csv", HEAD + "serum,p.png,t\nSERUM,p.png,t\n"), 2,
         f"error: {M}:3:1: sku: 'SERUM' differs from 'serum' (row 2) only in case; their output folders would "
         "collide on case-insensitive file systems (macOS, Windows)"),
    Case("sku-trailing-dot", validate("m.csv", HEAD + "A.,p.png,t\n"), 2,
         f"error: {M}:2:1: sku: 'A.' ends with '.', which Windows drops from folder names"),
    Case("sku-dot-name", validate("m.csv", HEAD + ".hidden,p.png,t\n"), 2,
         f"error: {M}:2:1: sku: String should match pattern '^[A-Za-z0-9][A-Za-z0-9._-]{{0,79}}$'"),
    Case("sku-path", validate("m.csv", HEAD + "../up,p.png,t\n"), 2,
         f"error: {M}:2:1: sku: String should match pattern '^[A-Za-z0-9][A-Za-z0-9._-]{{0,79}}$'"),
    Case("render-refuses-before-writing", render("m.csv", HEAD + GOOD + "report.json,p.png,t\n"), 2,
         f"error: {M}:3:1: sku: 'report.json' is reserved: OUT/report.json is written by the run itself; "
         "rename the SKU"),
    # YAML manifests
    Case("yaml-python-tag", validate("m.yaml", "- sku: A\n  image: p.png\n  title: !!python/object/apply:os.system [echo]\n"),
         2, f"error: {Y}:3:10: title: YAML tag !!python/object/apply:os.system is not allowed (plain values only: "
         "text, numbers, lists, mappings)"),
    Case("yaml-python-name-in-defaults", validate("m.yaml", "defaults:\n  prompt: !!python/name:os.system\nskus:\n"
                                                  "  - {sku: A, image: p.png, title: t}\n"),
         2, f"error: {Y}:2:11: prompt: YAML tag !!python/name:os.system is not allowed (plain values only: text, "
         "numbers, lists, mappings)"),
    Case("yaml-custom-tag", validate("m.yaml", "- {sku: A, image: p.png, title: !shout t}\n"), 2,
         f"error: {Y}:1:33: title: YAML tag !shout is not allowed (plain values only: text, numbers, lists, mappings)"),
    Case("yaml-billion-laughs", validate("m.yaml", billion_laughs("skus:\n  - {sku: A, image: p.png, title: *j}\n")),
         2, f"error: {Y}:7:4: YAML aliases expand to 5,380,840 values, far more than the file holds (a 'billion "
         "laughs' document?); write the values out instead of repeating anchors"),
    Case("yaml-deep-nesting", validate("m.yaml", "[" * 3000 + "]" * 3000 + "\n"), 2,
         f"error: {Y}:1:1: invalid YAML: nested too deeply"),
    Case("yaml-defaults-list", validate("m.yaml", "defaults: [size, story]\nskus:\n  - {sku: A, image: p.png, title: t}\n"),
         2, f"error: {Y}:1:11: defaults: must be a mapping of field: value (e.g. `size: story`)"),
    Case("yaml-defaults-string", validate("m.yaml", "defaults: story\nskus:\n  - {sku: A, image: p.png, title: t}\n"),
         2, f"error: {Y}:1:11: defaults: must be a mapping of field: value (e.g. `size: story`)"),
    Case("yaml-size-mapping", validate("m.yaml", "- {sku: A, image: p.png, title: t, size: {w: 9000, h: 9000}}\n"),
         2, f"error: {Y}:1:36: size: bad size {{'w': 9000, 'h': 9000}}: use WxH (e.g. 1024x1024) or a preset"),
    Case("yaml-size-mapping-in-defaults", validate("m.yaml", "defaults:\n  size: {w: 9000, h: 9000}\nskus:\n"
                                                   "  - {sku: A, image: p.png, title: t}\n"),
         2, f"error: {Y}:2:3: size: bad size {{'w': 9000, 'h': 9000}}: use WxH (e.g. 1024x1024) or a preset"),
    Case("yaml-size-list", validate("m.yaml", "- {sku: A, image: p.png, title: t, size: [9000, 9000]}\n"), 2,
         f"error: {Y}:1:36: size: bad size [9000, 9000]: use WxH (e.g. 1024x1024) or a preset"),
    Case("yaml-size-number", validate("m.yaml", "- {sku: A, image: p.png, title: t, size: 99999}\n"), 2,
         f"error: {Y}:1:36: size: bad size 99999: use WxH (e.g. 1024x1024) or a preset"),
    Case("yaml-duplicate-key", validate("m.yaml", "- sku: A\n  image: p.png\n  title: one\n  title: two\n"), 2,
         f"error: {Y}:4:3: title: given twice in this mapping (first on line 3)"),
    Case("yaml-top-level-typo", validate("m.yaml", "default:\n  size: story\nskus:\n  - {sku: A, image: p.png, title: t}\n"),
         2, f"error: {Y}:1:1: unknown top-level key 'default' (expected `defaults:` and `skus:`; anchors to reuse "
         "can live in `defaults:`)"),
    Case("yaml-escaped-esc", validate("m.yaml", '- {sku: A, image: p.png, title: "\\e[2J"}\n'), 2,
         f"error: {Y}:1:26: title: control character U+001B (ESC) at character 1; remove it"),
    Case("yaml-merge-from-defaults", validate("m.yaml", "defaults: &d {size: story}\nskus:\n"
                                              "  - {<<: *d, sku: A, image: p.png, title: t}\n"),
         0, "{tmp}/m.yaml: ok — 1 SKU, 2 posters"),
    Case("yaml-bad-merge", validate("m.yaml", "- {<<: 5, sku: A, image: p.png, title: t}\n"), 2,
         f"error: {Y}:1:4: <<: a merge needs a mapping (an anchored row or defaults)"),
    Case("yaml-scalar-document", validate("m.yaml", "just text\n"), 2,
         f"error: {Y}:1:1: expected a list of SKU rows"),
    # config files and styles.yaml go through the same safe, bounded YAML reader
    Case("config-python-tag", config("render: !!python/object/apply:os.system [echo]\n"), 2,
         "error: {tmp}/c.yaml:1:9: YAML tag !!python/object/apply:os.system is not allowed (plain values only: "
         "text, numbers, lists, mappings)"),
    Case("config-billion-laughs", config(billion_laughs("")), 2,
         "error: {tmp}/c.yaml:7:4: YAML aliases expand to 5,380,840 values, far more than the file holds (a "
         "'billion laughs' document?); write the values out instead of repeating anchors"),
    Case("styles-list", styles("- brand-noir\n- brand-ivory\n"), 2,
         "error: {tmp}/styles.yaml: a styles file must be a mapping of style name → settings (got a list); see "
         "manifests/styles.yaml"),
    Case("styles-entry-not-mapping", styles("brand-noir: dark\n"), 2,
         "error: {tmp}/styles.yaml: style brand-noir: must be a mapping of settings (background, gradient, "
         "texture, shape, accent, text, plate, title_weight, body_weight, prompt)"),
    Case("styles-python-tag", styles("brand-noir: !!python/object/new:os.system [echo]\n"), 2,
         "error: {tmp}/styles.yaml:1:13: YAML tag !!python/object/new:os.system is not allowed (plain values "
         "only: text, numbers, lists, mappings)"),
    Case("styles-not-utf8", styles(b"brand-noir:\n  prompt: caf\xe9\n"), 2,
         "error: {tmp}/styles.yaml: not UTF-8 text (byte 0xe9 at offset 25); save it as UTF-8"),
    # images: one SKU's bad photo is that SKU's error row; the good row still renders
    Case("image-truncated", with_bad_image("bad.png", truncated_png, HEAD + "BAD,bad.png,Bad\n" + GOOD), 1,
         f"error   BAD  {M}:2: cannot read image bad.png: truncated or corrupt (image file is truncated)",
         ("OK/OK-v1.png", "report.csv")),
    Case("image-not-an-image", with_bad_image("bad.png", b"<svg/>", HEAD + "BAD,bad.png,Bad\n" + GOOD), 1,
         f"error   BAD  {M}:2: cannot read image bad.png: not an image file Pillow can read, or its header is "
         "corrupt", ("OK/OK-v1.png", "report.csv")),
    Case("image-empty-file", with_bad_image("bad.jpg", b"", HEAD + "BAD,bad.jpg,Bad\n" + GOOD), 1,
         f"error   BAD  {M}:2: cannot read image bad.jpg: not an image file Pillow can read, or its header is "
         "corrupt", ("OK/OK-v1.png",)),
    Case("image-decompression-bomb", with_bad_image("bomb.png", png_bomb(), HEAD + "BOMB,bomb.png,Boom\n" + GOOD),
         1, f"error   BOMB  {M}:2: cannot read image bomb.png: 900 megapixels, over the 89 MP limit (a "
         "decompression bomb?)", ("OK/OK-v1.png", "report.html")),
    Case("image-just-over-the-bomb-warning", with_bad_image("big.png", png_bomb(10000, 10000),
                                                            HEAD + "BIG,big.png,Big\n" + GOOD),
         1, f"error   BIG  {M}:2: cannot read image big.png: 100 megapixels, over the 89 MP limit (a "
         "decompression bomb?)", ("OK/OK-v1.png",)),
    Case("style-image-corrupt", with_bad_image("ref.png", b"\x89PNG\r\n\x1a\nbroken",
                                               "sku,image,title,style\nBAD,p.png,Bad,ref.png\nOK,p.png,Good,\n"),
         1, "error   BAD  cannot read image ref.png: not an image file Pillow can read, or its header is corrupt",
         ("OK/OK-v1.png",)),
    Case("exif-rotated-photo-rendered-upright", exif_render, 0, "pass    PHONE-v1", ("PHONE/PHONE-v1.png",),
         upright_mask),
    Case("exif-rotated-photo-extracted-upright", exif_extract, 0, "ok      PHONE  classical", ("PHONE/PHONE.mask.png",),
         upright_mask),
    Case("manifest-name-with-esc", render("m\x1b.csv", HEAD + GOOD), 0, "pass    OK-v1", ("OK/OK-v1.png",),
         no_raw_controls),
    # qa: --set values and the run's run.yaml go through the same YAML reader
    Case("qa-set-python-tag", lambda tmp: ["qa", str(tmp / "out"), "--set", "qa.x=!!python/name:os.system"], 2,
         "error: --set 'qa.x=!!python/name:os.system': YAML tag !!python/name:os.system is not allowed (plain "
         "values only: text, numbers, lists, mappings)"),
    Case("qa-run-yaml-billion-laughs", lambda tmp: _qa_out(tmp, billion_laughs("")), 2,
         "error: {tmp}/out/run.yaml:7:4: YAML aliases expand to 5,380,840 values, far more than the file holds (a "
         "'billion laughs' document?); write the values out instead of repeating anchors"),
    # dataset: inputs checked before any work
    Case("dataset-metadata-not-utf8", dataset(metadata="file,sku\na.png,café\n".encode("latin-1")), 2,
         "error: {tmp}/meta.csv: metadata is not UTF-8 text (byte 0xe9 at offset 18); save it as UTF-8"),
    Case("dataset-metadata-duplicate-column", dataset(metadata=b"file,sku,sku\na.png,A,B\n"), 2,
         "error: {tmp}/meta.csv:1: duplicate column 'sku' (file, sku, group, prompt, subject)"),
    Case("dataset-bench-negative", dataset("--bench", "-1"), 2,
         "error: config dataset.bench_size (--bench): must be 0 or more, got -1"),
    Case("dataset-size-over-limit", dataset("--size", "100000"), 2,
         "error: config dataset.size (--size): 100000 is over the 4096 px limit"),
]


def _listing(root: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """Every file under `root` except under `skip` (the output folder): path → (size, mtime)."""
    out = {}
    for p in root.rglob("*"):
        if p.is_file() and not (skip and p.is_relative_to(skip)):
            st = p.stat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, tmp_path: Path) -> None:
    args = case.build(tmp_path)
    out_existed = (tmp_path / "out").exists()
    before, everything = _listing(tmp_path, tmp_path / "out"), _listing(tmp_path)
    res = runner.invoke(app, args)
    after = _listing(tmp_path, tmp_path / "out")
    out = res.stderr if case.code == 2 else res.stdout
    assert res.exit_code == case.code, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.output
    assert "\x1b" not in res.output  # never echoed raw to the terminal
    assert out.splitlines()[0] == case.first.replace("{tmp}", str(tmp_path))
    assert after == before  # nothing written (or changed) outside --out
    if case.code == 2:  # refused before any work: nothing written at all
        assert _listing(tmp_path) == everything and (tmp_path / "out").exists() == out_existed
    for name in case.finished:
        assert (tmp_path / "out" / name).is_file(), name
    if case.check:
        case.check(tmp_path)


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 45 and len({c.id for c in CASES}) == len(CASES)


# ---------------------------------------------------------------------------------------------- units

def test_forced_breaks_start_new_lines_and_count_against_the_limit() -> None:
    from ecomctl.text.fonts import load_font
    from ecomctl.text.wrap import wrap

    font = load_font(40, 700)
    assert wrap("Night\nSerum", font, 2000, 3) == ["Night", "Serum"]  # wide enough for one line: still two
    assert wrap("晚安\n精华", font, 2000, 3, phrases=True) == ["晚安", "精华"]
    assert wrap("a\nb\nc", font, 2000, 2) is None  # three forced lines never fit two
    long = wrap("Deep night repair serum\nNew", font, 260, 3)
    assert long is not None and long[-1] == "New" and len(long) == 3  # the first part wrapped on its own


def test_yaml_reader_allows_plain_anchors_and_refuses_what_is_not_plain() -> None:
    from ecomctl import yamlio

    assert yamlio.load_text("a: &x [1, 2]\nb: *x\nc: !!binary aGk=\n") == {"a": [1, 2], "b": [1, 2], "c": b"hi"}
    with pytest.raises(yamlio.YamlProblem, match="^1:4: YAML tag !!python/name:os.system is not allowed"):
        yamlio.load_text("a: !!python/name:os.system\n")
    with pytest.raises(yamlio.YamlProblem, match="YAML aliases expand to"):
        yamlio.load_text(billion_laughs(""))


def test_neutralise_makes_control_characters_visible() -> None:
    from ecomctl.textsafe import neutralise, normalise_breaks

    assert neutralise("ok 价格 ¥9") == "ok 价格 ¥9"
    assert neutralise("a\x1b[2Jb\x00\u202e\x85") == "a\\x1b[2Jb\\x00\\u202e\\x85"
    assert neutralise("line\nnext\tcol", keep="\n\t") == "line\nnext\tcol"
    assert normalise_breaks("a\r\nb\rc\u2028d\u2029e") == "a\nb\nc\nd\ne"


@pytest.mark.parametrize("orientation, stored", [(3, Image.Transpose.ROTATE_180), (6, Image.Transpose.ROTATE_90),
                                                 (8, Image.Transpose.ROTATE_270)])
def test_open_image_turns_photos_upright(tmp_path: Path, orientation: int, stored: Image.Transpose) -> None:
    from ecomctl.io import open_image

    upright = Image.new("RGB", (60, 90), (255, 255, 255))
    upright.paste((255, 0, 0), (0, 0, 20, 20))  # a red mark in the top-left corner, as displayed
    exif = Image.Exif()
    exif[0x0112] = orientation
    upright.transpose(stored).save(tmp_path / "p.jpg", quality=95, exif=exif.tobytes())
    img = open_image(tmp_path / "p.jpg")
    assert img.size == (60, 90)
    assert img.getpixel((5, 5))[0] > 200 and img.getpixel((5, 5))[1] < 60  # red, top-left
