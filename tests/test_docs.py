"""The README is an orientation (≤ 200 lines, every page it links exists, every docs/ page is in its index) and
the docs/ pages stay true to the code: every link, path, command flag, config key (with the defaults the
configuration page states), backend, backend setting, style preset, manifest field and OUT file they name
exists, and the benchmark figures they quote are the ones in their JSON under benchmarks/results/."""

from __future__ import annotations

import json
import re
import typing
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path

import yaml

from tests.conftest import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _without_code_blocks(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)


def _links(text: str) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", _without_code_blocks(text))


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces → hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", _without_code_blocks(_text(path)), re.MULTILINE)}


def _spans(text: str) -> list[str]:
    return [" ".join(s.split()) for s in re.findall(r"`([^`]+)`", _without_code_blocks(text))]


def _section(path: Path, heading: str) -> str:
    text = _text(path)
    start = text.index(f"\n{heading}\n")
    end = re.search(r"^## ", text[start + len(heading) + 2:], re.MULTILINE)
    return text[start:] if end is None else text[start:start + len(heading) + 2 + end.start()]


def _table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|[\s\-|]+\|", line):
            rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return rows[1:]  # the header row


# --- the README as an orientation ------------------------------------------------------------------------------

def test_readme_is_an_orientation_of_at_most_200_lines():
    assert len(_text(README).splitlines()) <= 200


def test_every_link_of_the_readme_and_the_docs_resolves():
    broken = []
    for page in PAGES:
        for link in _links(_text(page)):
            if re.match(r"[a-z]+://|mailto:", link):
                continue
            target, _, anchor = link.partition("#")
            path = (page.parent / target).resolve() if target else page
            if not path.exists():
                broken.append(f"{page.name}: {link}")
            elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
                broken.append(f"{page.name}: {link} (no such heading)")
    assert broken == []


def test_the_readme_indexes_every_docs_page():
    linked = {(README.parent / link.partition("#")[0]).resolve() for link in _links(_text(README))}
    assert [p.name for p in DOCS.glob("*.md") if p.resolve() not in linked] == []


def test_the_two_set_up_commands_are_make_targets():
    block = re.search(r"## Set-up: two commands\n+```bash\n(.*?)```", _text(README), re.DOTALL)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]
    make = _text(ROOT / "Makefile")
    assert re.search(r"^demo:.*\n\t.*ecomctl render manifests/demo\.csv", make, re.MULTILINE)
    assert re.search(r"^test:.*\n\t.*pytest", make, re.MULTILINE)


# --- names the pages use exist in the code --------------------------------------------------------------------

def test_every_repository_path_the_pages_name_exists():
    roots = ("ecomctl/", "tests/", "docs/", "benchmarks/", "manifests/", "tools/", ".ci/")
    missing = sorted({f"{page.name}: {s}" for page in PAGES for s in _spans(_text(page))
                      if s.startswith(roots) and re.fullmatch(r"[\w./-]+", s) and not (ROOT / s).exists()})
    assert missing == []


def _commands() -> dict[str, set[str]]:
    """`ecomctl CMD [SUB]` → the long options it takes (the app's own under '')."""
    import typer.main

    from ecomctl.cli import app

    group = typer.main.get_command(app)
    out = {"": {o for p in group.params for o in p.opts} | {"--help"}}
    for name, cmd in group.commands.items():
        out[name] = {o for p in cmd.params for o in p.opts} | out[""]
        for sub, subcmd in getattr(cmd, "commands", {}).items():
            out[f"{name} {sub}"] = {o for p in subcmd.params for o in p.opts} | out[""]
    return out


def _command_of(words: list[str], known: dict[str, set[str]]) -> str | None:
    for n in (2, 1):
        name = " ".join(words[:n])
        if name in known:
            return name
    return None


def test_every_flag_the_pages_give_a_command_exists():
    known = _commands()
    unknown = []
    for page in PAGES:
        text = _text(page)
        # a command line (in a code block or a span): the flags after `ecomctl CMD`
        pieces = [m.group(0) for m in re.finditer(r"ecomctl(?: --debug)? [^`\n]*", text)]
        for piece in pieces:
            words = re.split(r"[\s|]+", piece.removeprefix("ecomctl").replace("--debug", "").strip())
            cmd = _command_of(words, known)
            if cmd is None:
                continue
            for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", piece):
                if flag not in known[cmd]:
                    unknown.append(f"{page.name}: ecomctl {cmd} {flag}")
        # a table row that names commands in its first cell: every flag in the row belongs to one of them
        for row in _table_rows(text):
            cmds = {c for span in re.findall(r"`ecomctl ([^`]+)`", row[0])
                    for c in [_command_of(re.split(r"[\s\\|]+", span), known)] if c}
            for first in re.findall(r"`ecomctl (\w+) (\w+)\\\|([\w\\|]+)`", row[0]):
                cmds |= {f"{first[0]} {s}" for s in [first[1], *first[2].split("\\|")] if f"{first[0]} {s}" in known}
            for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", " ".join(row)) if cmds else []:
                if not any(flag in known[c] for c in cmds):
                    unknown.append(f"{page.name}: {sorted(cmds)} {flag}")
    assert sorted(set(unknown)) == []


SECTIONS = ("run", "render", "input", "subject", "text", "qa", "ocr", "dataset")


def _dataclass_defaults(cls: type) -> dict[str, object]:
    return {f.name: (f.default if f.default is not MISSING else f.default_factory())  # type: ignore[misc]
            for f in fields(cls)}


def _config_tree() -> dict[str, object]:
    """Every key a config may set outside backends.<name>, with its default: defaults.yaml, and the sections
    typed by the stage that owns them."""
    from ecomctl.dataset.settings import DatasetSettings
    from ecomctl.qa.thresholds import QAThresholds
    from ecomctl.subject.classical import ClassicalSettings
    from ecomctl.subject.grounded_sam import GroundedSamSettings
    from ecomctl.subject.saliency import SaliencySettings
    from ecomctl.subject.studio import StudioSettings
    from ecomctl.text.ocr import OcrSettings

    tree = yaml.safe_load(_text(ROOT / "ecomctl" / "defaults.yaml"))
    tree["qa"] = QAThresholds().model_dump()
    tree["ocr"] = OcrSettings().model_dump()
    tree["dataset"] = _dataclass_defaults(DatasetSettings)
    for name, cls in (("studio", StudioSettings), ("saliency", SaliencySettings), ("classical", ClassicalSettings),
                      ("grounded-sam", GroundedSamSettings)):
        assert is_dataclass(cls)
        tree["subject"][name] = _dataclass_defaults(cls)
    return tree


_NOTHING = object()


def _lookup(tree: dict[str, object], dotted: str) -> object:
    node: object = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _NOTHING
        node = node[part]
    return node


def _other_dotted_names() -> set[str]:
    """Dotted names that are not config keys: QA check names (string literals of ecomctl/qa), ecomctl's modules
    (`qa.checks`) and their attributes (`qa.write_reports`)."""
    qa = " ".join(_text(p) for p in (ROOT / "ecomctl" / "qa").glob("*.py"))
    names = set(re.findall(r"[\"']([a-z_]+\.[a-z_.]+)[\"']", qa))
    for path in (ROOT / "ecomctl").rglob("*.py"):
        module = ".".join(path.relative_to(ROOT / "ecomctl").with_suffix("").parts).removesuffix(".__init__")
        names.add(module)
        names |= {f"{module}.{n}" for n in re.findall(r"^(?:def|class) (\w+)|^(\w+) *=", _text(path),
                                                       re.MULTILINE) for n in n if n}
    return names


def test_every_config_key_the_pages_name_exists():
    tree = _config_tree()
    other = _other_dotted_names()
    unknown = []
    for page in PAGES:
        for span in _spans(_text(page)):
            m = re.fullmatch(rf"((?:{'|'.join(SECTIONS)})\.[\w.-]*[\w-])(?::.*| =.*|=.*)?", span)
            if (m is None or m.group(1).endswith(".*") or m.group(1) in other
                    or re.search(r"\.(yaml|json|csv|html|png|md|py)$", m.group(1))):
                continue
            if _lookup(tree, m.group(1)) is _NOTHING:
                unknown.append(f"{page.name}: {m.group(1)}")
        for key in re.findall(r"--set ([\w.-]+)=", _text(page)):  # command lines, code blocks included
            if key != "qa.KEY" and _lookup(tree, key) is _NOTHING:
                unknown.append(f"{page.name}: --set {key}")
        for env in re.findall(r"\bECOMCTL__(\w+)=", _text(page)):
            if env not in ("SECTION__KEY",) and _lookup(tree, env.lower().replace("__", ".")) is _NOTHING:
                unknown.append(f"{page.name}: ECOMCTL__{env}")
    assert unknown == []


def _configuration_rows() -> list[tuple[str, str]]:
    """(key, stated default) of every row of the configuration page's key table, a `a` / `b` row split."""
    out = []
    for row in _table_rows(_section(DOCS / "configuration.md", "## Keys")):
        keys = re.findall(r"`([^`]+)`", row[0])
        defaults = [d.strip() for d in row[1].split(" / ")]
        if len(defaults) != len(keys):
            defaults = [row[1]] * len(keys)
        out += list(zip(keys, defaults, strict=True))
    return out


def test_the_configuration_page_states_the_defaults_the_code_has():
    tree = _config_tree()
    wrong = []
    for key, stated in _configuration_rows():
        if key.endswith(".*"):
            continue
        actual = _lookup(tree, key)
        if actual is _NOTHING:
            wrong.append(f"{key}: no such key")
        elif re.fullmatch(r"`[^`]*`", stated) and yaml.safe_load(stated.strip("`")) != actual:
            wrong.append(f"{key}: the page says {stated}, the code {actual!r}")
    assert wrong == []
    assert len(_configuration_rows()) > 30


def test_every_key_of_defaults_yaml_is_on_the_configuration_page():
    documented = {k for k, _ in _configuration_rows()}
    defaults = yaml.safe_load(_text(ROOT / "ecomctl" / "defaults.yaml"))
    keys = {f"{section}.{key}" for section, body in defaults.items() if body for key in body}
    assert sorted(keys - documented) == []


def test_the_typed_sections_table_names_the_classes_that_type_them():
    rows = _table_rows(_section(DOCS / "configuration.md", "## Sections typed by the stage that owns them"))
    assert len(rows) >= 8
    for row in rows:
        m = re.match(r"`(\w+)` in `([\w/.]+\.py)`", row[1])
        if m:
            definition = rf"^(class {m.group(1)}\b|{m.group(1)}\b.* = )"  # a class, or a model built by a call
            assert re.search(definition, _text(ROOT / m.group(2)), re.MULTILINE), row


def _backends() -> dict[str, type | object]:
    from ecomctl.render import BACKENDS, load_builtins

    load_builtins()
    return {name: BACKENDS.get(name) for name in BACKENDS.names()}


def test_the_backends_table_lists_the_registered_backends():
    table = _table_rows(_section(DOCS / "backends.md", "## The backends"))
    assert sorted(re.fullmatch(r"`([\w-]+)`", row[0]).group(1) for row in table) == sorted(_backends())


def _top_level(text: str) -> str:
    """The text with every parenthesised aside removed (nested ones too)."""
    out, depth = [], 0
    for ch in text:
        depth += ch == "("
        if depth == 0:
            out.append(ch)
        depth -= ch == ")" and depth > 0
    return "".join(out)


def test_every_backend_setting_the_backends_page_names_exists():
    backends = _backends()
    from ecomctl.render.diffusion.common import DiffusionSettings

    text = " ".join(_section(DOCS / "backends.md", "## Settings").split())
    shared, _, per_backend = text.partition(". `qwen-image` also takes")
    shared_keys = re.findall(r"`(\w+)`", _top_level(shared.split(":", 1)[1]))
    assert len(shared_keys) > 10 and set(shared_keys) - set(DiffusionSettings.model_fields) == set()
    checked = 0
    for m in re.finditer(r"`([\w-]+)` (?:also )?takes ", "`qwen-image` also takes" + per_backend):
        name, body = m.group(1), _top_level(m.string[m.end():])
        body = re.split(r"[.;] ", body, maxsplit=1)[0]  # up to the end of its clause, asides skipped
        keys = [k.split(":")[0] for k in re.findall(r"`([\w]+(?::[^`]*)?)`", body)]
        assert keys and set(keys) - set(backends[name].Settings.model_fields) == set(), name
        checked += 1
    assert checked >= 4


def test_style_presets_and_the_example_match_the_styles_the_code_reads():
    from typing import Literal

    from ecomctl.render.styles import BUILTIN, _StyleModel

    page = _text(DOCS / "styles.md")
    listed = re.search(r"Built-in presets \(`ecomctl/render/styles.yaml`\): (.*?)\. A ", page, re.DOTALL).group(1)
    assert sorted(re.findall(r"`([\w-]+)`", listed)) == sorted(yaml.safe_load(_text(BUILTIN)))
    brand = re.search(r"`manifests/styles.yaml`: (.*?)\)", page, re.DOTALL).group(1)
    assert sorted(re.findall(r"`([\w-]+)`", brand)) == sorted(yaml.safe_load(_text(ROOT / "manifests" /
                                                                                  "styles.yaml")))
    example = re.search(r"```yaml\n(.*?)```", page, re.DOTALL).group(1)
    for preset in yaml.safe_load(example).values():
        _StyleModel.model_validate(preset)
    for key, options in re.findall(r"^\s+(\w+): .*# ([\w ]+(?: \| [\w ()]+)+)$", example, re.MULTILINE):
        hint = _StyleModel.model_fields[key].annotation
        literal = next(a for a in typing.get_args(hint) if typing.get_origin(a) is Literal)
        assert [o.split(" (")[0].strip() for o in options.split("|")] == list(typing.get_args(literal)), key


def test_the_manifest_fields_table_is_the_row_model():
    from ecomctl.manifest import RowModel

    named = [f for row in _table_rows(_section(DOCS / "manifest.md", "## Fields"))
             for f in re.findall(r"`(\w+)`", row[0])]
    assert sorted(named) == sorted(RowModel.model_fields)


def _out_names(text: str) -> set[str]:
    return {m.rstrip(",") for m in re.findall(r"^\s*(OUT/\S+)", text, re.MULTILINE)}


def test_the_output_page_lists_every_file_the_store_names():
    store_doc = _text(ROOT / "ecomctl" / "store" / "__init__.py").split('"""')[1]
    names = {n for line in store_doc.splitlines() for n in re.findall(r"(OUT/[^\s,]+)", line)} - {"OUT/.cache/"}
    page = _out_names(_text(DOCS / "output.md"))
    assert sorted(names - page) == []
    assert _out_names(_text(README)) <= page | {"OUT/<sku>/…"}


# --- benchmark figures next to their JSON ------------------------------------------------------------------------

def test_the_extraction_benchmark_table_is_its_json():
    summary = json.loads(_text(ROOT / "benchmarks" / "results" / "extract_methods_cpu.json"))["summary"]
    rows = _table_rows(_section(DOCS / "extraction.md", "## Fixtures and benchmark"))
    assert sorted(re.search(r"\[`([^`]+)`\]", row[0]).group(1) for row in rows) == sorted(summary)
    for row in rows:
        figures = summary[re.search(r"\[`([^`]+)`\]", row[0]).group(1)]
        for cell, suite in zip(row[1:5], ("scene", "poster", "studio", "studio-jpeg"), strict=True):
            assert cell == f"{figures[suite]['mean_iou']:.3f} / {figures[suite]['min_iou']:.3f}", (row[0], suite)
        for cell, suite in zip(row[5:7], ("studio", "studio-jpeg"), strict=True):
            cpu = figures[suite].get("cpu_seconds_per_image")
            assert cell == ("–" if cpu is None else f"{cpu:.2f}"), (row[0], suite)


def test_the_cpu_throughput_table_is_its_json():
    result = json.loads(_text(ROOT / "benchmarks" / "results" / "render_compose_cpu_quiet.json"))
    rows = {row[0]: [c.strip("*") for c in row[1:]] for row in _table_rows(_section(DOCS / "cpu-throughput.md",
                                                                                       "## Result"))}
    runs = [result["baseline"]["1"], result["baseline"]["2"], result["current"]["1"], result["current"]["2"]]
    assert rows["posters/s"] == [f"{r['posters_per_s']:.3f}" for r in runs]
    assert rows["CPU-s per poster"] == [f"{r['cpu_s_per_poster']:.3f}" for r in runs]


def test_the_readme_commands_table_lists_every_command():
    table = _section(README, "## Commands")
    listed = set(re.findall(r"`ecomctl (\w+)", table))
    assert listed == {c for c in _commands() if c and " " not in c}
