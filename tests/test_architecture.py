"""docs/architecture.md stays true (every path it names exists), its layer table holds for every import in
ecomctl (read with `ast`), each shared rule has one definition, only the store builds paths inside OUT, and
test fixtures stay out of the runtime package."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

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


# --- layers: the table in docs/architecture.md is the one source; every import in ecomctl must obey it -------


@dataclass(frozen=True)
class Component:
    layer: int
    name: str
    paths: tuple[str, ...]  # "ecomctl/qa/" (a package: everything under it) or "ecomctl/io.py"
    exclusive: tuple[str, ...]  # third-party packages only this component may import

    def holds(self, path: str) -> bool:
        return any(path.startswith(p) if p.endswith("/") else path == p for p in self.paths)


def layer_table(doc: str) -> list[Component]:
    """The rows of the `## Layers` table: | layer | component | modules | only it imports |."""
    section = doc.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].isdigit():
            rows.append(Component(int(cells[0]), cells[1], tuple(re.findall(r"`([^`]+)`", cells[2])),
                                  tuple(re.findall(r"`([^`]+)`", cells[3]))))
    return rows


def _module(path: str) -> tuple[str, bool]:
    """ecomctl/qa/__init__.py → ("ecomctl.qa", True); ecomctl/io.py → ("ecomctl.io", False)."""
    parts = path.removesuffix(".py").split("/")
    return (".".join(parts[:-1]), True) if parts[-1] == "__init__" else (".".join(parts), False)


def imports(source: str, path: str, modules: set[str]) -> list[tuple[int, str]]:
    """Every import in `source` (module `path`) as (line, dotted name): module level and inside functions or
    classes, `import a.b`, `from a import b` (a.b when that is a module, else a), relative imports resolved
    against the module's package, and `importlib.import_module("a.b")` / `__import__("a.b")` with a literal."""
    name, is_package = _module(path)
    package = name.split(".") if is_package else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(source, path)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                base = ".".join([*up, *([node.module] if node.module else [])])
            found += [(node.lineno, f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
                      for a in node.names]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id == "__import__"))):
            found.append((node.lineno, node.args[0].value))
    return found


def layer_violations(sources: dict[str, str], table: list[Component]) -> list[str]:
    """`file:line: …` for every import the layer table does not allow (`sources`: path under ROOT → text)."""
    modules = {_module(p)[0]: p for p in sources}
    where = {p: [c for c in table if c.holds(p)] for p in sources}
    problems = [f"{p}: in {len(cs)} rows of the layer table ({', '.join(c.name for c in cs) or 'none'})"
                for p, cs in where.items() if len(cs) != 1]
    owner_of = {pkg: c for c in table for pkg in c.exclusive}
    for path, text in sources.items():
        if len(where[path]) != 1:
            continue
        me = where[path][0]
        for line, target in imports(text, path, set(modules)):
            top = target.split(".")[0]
            if top != "ecomctl":
                owner = owner_of.get(top)
                if owner is not None and owner is not me:
                    problems.append(f"{path}:{line}: {me.name} imports {top}, which only {owner.name} may import")
                continue
            found = target
            while found not in modules and "." in found:
                found = found.rsplit(".", 1)[0]
            them = where.get(modules.get(found, ""), [])
            if len(them) != 1 or them[0] is me:
                continue
            other = them[0]
            if other.layer >= me.layer:
                how = "upward" if other.layer > me.layer else "sideways"
                problems.append(f"{path}:{line}: {me.name} (layer {me.layer}) imports {target} "
                                f"({other.name}, layer {other.layer}): {how}")
    return list(dict.fromkeys(problems))  # `from x import a, b`: one line


def test_the_layer_table_covers_every_module_once():
    table = layer_table(DOC.read_text(encoding="utf-8"))
    assert len(table) > 20 and len({c.name for c in table}) == len(table)
    assert {c.name for c in table if c.layer == max(c.layer for c in table)} == {"cli"}
    covered = {p: [c.name for c in table if c.holds(p)] for p in _sources()}
    assert {p: names for p, names in covered.items() if len(names) != 1} == {}


def test_every_import_in_ecomctl_obeys_the_layer_table():
    problems = layer_violations(_sources(), layer_table(DOC.read_text(encoding="utf-8")))
    assert not problems, "\n".join(problems)


def test_an_upward_sideways_or_exclusive_import_is_reported():
    """The check can fail: the real table, with modules made up to break it in each way it knows."""
    table = layer_table(DOC.read_text(encoding="utf-8"))
    sources = {**_sources(),
               "ecomctl/qa/bad.py": "def f():\n    from ecomctl.engine import campaigns\n",
               "ecomctl/store/bad.py": "from .. import manifest\nimport ecomctl.sizes\n",
               "ecomctl/subject/bad.py": "import importlib\nx = importlib.import_module('ecomctl.render.compose')\n",
               "ecomctl/engine/bad.py": "from ecomctl.cli import app\nimport ecomctl.qa.report\n",
               "ecomctl/text/bad.py": "if True:\n    from rich.table import Table\n",
               "ecomctl/cli/bad.py": "import rich, typer\nfrom ecomctl.engine.runner import run_render\n"}
    assert layer_violations(sources, table) == [
        "ecomctl/qa/bad.py:2: qa (layer 5) imports ecomctl.engine.campaigns (engine, layer 6): upward",
        "ecomctl/store/bad.py:1: store (layer 2) imports ecomctl.manifest (manifest, layer 5): upward",
        "ecomctl/subject/bad.py:2: subject (layer 4) imports ecomctl.render.compose (render, layer 4): sideways",
        "ecomctl/engine/bad.py:1: engine (layer 6) imports ecomctl.cli (cli, layer 7): upward",
        "ecomctl/text/bad.py:2: text imports rich, which only cli may import",
    ]
    assert layer_violations({"ecomctl/nowhere.py": ""}, table) == [
        "ecomctl/nowhere.py: in 0 rows of the layer table (none)"]



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
    (r"^def worst\(", "ecomctl/outcome.py"),
    (r"^def parse_size\(|^SIZE_PRESETS\s*=", "ecomctl/sizes.py"),
    (r"^def (inpaint|grow_mask)\(", "ecomctl/imaging.py"),
    (r"^\s*(_COLOUR|_STYLE)\s*=\s*\{", None),  # no private status→colour maps left anywhere
    (r"\"error\":\s*\"(red|magenta)\"", "ecomctl/outcome.py"),
    (r"BarColumn\(", "ecomctl/cli/common.py"),
    (r"^def atomic_write_bytes\(|mkstemp\(", "ecomctl/store/files.py"),
    (r"0\.0392|0\.04045", "ecomctl/text/colour.py"),  # the sRGB linearisation threshold
])
def test_each_shared_rule_has_one_definition(pattern: str, home: str | None):
    where = sorted(path for path, text in _sources().items() if re.search(pattern, text, re.MULTILINE))
    assert where == ([home] if home else [])


# --- only store/ builds a path inside OUT: found from the code (joins onto OUT), not from file names -------------

OUT_NAMES = {"out", "out_dir", "store", "sidecar"}  # how ecomctl names a render's OUT (and a file in it)
PATH_CALLS = {"Path", "PurePath", "PosixPath"}
PASS_THROUGH = {"zip", "enumerate", "sorted", "reversed", "list", "tuple", "iter", "next", "str"}
JOIN_METHODS = {"joinpath", "with_name", "with_suffix", "with_stem"}
COLLECT = {"append", "extend", "add", "insert", "setdefault", "update"}
FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _literal(node: ast.AST) -> str | None:
    """A string literal's text ({} for an f-string's fields), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _base(node):
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _rooted(node, bound):
    """Whether `node` is OUT or a path in it: named so, made by OutputStore, or derived from one."""
    if isinstance(node, ast.Name):
        return node.id in OUT_NAMES or node.id in bound
    if isinstance(node, ast.Attribute):
        return node.attr in OUT_NAMES or _rooted(node.value, bound)
    if isinstance(node, (ast.Subscript, ast.Starred)):
        return _rooted(node.value, bound)
    if isinstance(node, (ast.Tuple, ast.List)):
        return any(_rooted(e, bound) for e in node.elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return _rooted(node.left, bound)
    if isinstance(node, ast.Call):
        f = node.func
        if isinstance(f, ast.Name):
            if f.id == "OutputStore":
                return True
            if f.id in PATH_CALLS:
                return bool(node.args) and _rooted(node.args[0], bound)
            return f.id in PASS_THROUGH and any(_rooted(a, bound) for a in node.args)
        if isinstance(f, ast.Attribute):
            return _rooted(f.value, bound)
    return False


def _bind(target, bound):
    new = {n.id for n in ast.walk(target) if isinstance(n, ast.Name)} - bound
    bound |= new
    return bool(new)


def _params(fn):
    a = fn.args
    return [p.arg for p in [*a.posonlyargs, *a.args]], {p.arg for p in [*a.posonlyargs, *a.args, *a.kwonlyargs]}


def rooted_names(tree):
    """Per function (by id): the local names that hold OUT or a path in it, to a fixed point over the module:
    assignments, loops, `with … as`, containers filled with such paths, and parameters that a call in this
    module passes such a path."""
    funcs = [n for n in ast.walk(tree) if isinstance(n, FUNCS)]
    by_name = {}
    for f in funcs:
        if not isinstance(f, ast.Lambda):
            by_name.setdefault(f.name, []).append(f)
    bound = {id(f): set() for f in funcs}
    changed = True
    while changed:
        changed = False
        for f in funcs:
            mine = bound[id(f)]
            for n in ast.walk(f):
                pairs = []
                if isinstance(n, ast.Assign):
                    pairs = [(t, n.value) for t in n.targets]
                elif isinstance(n, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)) and n.value is not None:
                    pairs = [(n.target, n.value)]
                elif isinstance(n, (ast.For, ast.AsyncFor, ast.comprehension)):
                    pairs = [(n.target, n.iter)]
                elif isinstance(n, ast.withitem) and n.optional_vars is not None:
                    pairs = [(n.optional_vars, n.context_expr)]
                elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in COLLECT \
                        and any(_rooted(a, mine) for a in n.args):
                    name = _base(n.func.value)
                    pairs = [(ast.Name(name), n.args[0])] if name else []
                for target, value in pairs:
                    if _rooted(value, mine):
                        changed |= _bind(target, mine)
                if isinstance(n, ast.Call):
                    callee = n.func.id if isinstance(n.func, ast.Name) else \
                        n.func.attr if isinstance(n.func, ast.Attribute) else None
                    for g in by_name.get(callee, []):
                        positional, named = _params(g)
                        if positional and positional[0] in ("self", "cls") and isinstance(n.func, ast.Attribute):
                            positional = positional[1:]
                        hits = [p for p, a in zip(positional, n.args) if _rooted(a, mine)]
                        hits += [k.arg for k in n.keywords if k.arg in named and _rooted(k.value, mine)]
                        for p in hits:
                            if p not in bound[id(g)]:
                                bound[id(g)].add(p)
                                changed = True
    return bound


class _Sinks(ast.NodeVisitor):
    def __init__(self, path, reserved, bound):
        self.path, self.reserved, self.bound, self.found, self.scope = path, reserved, bound, [], [set()]

    def _fn(self, node):
        self.scope.append(self.scope[-1] | self.bound[id(node)])
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _fn

    def _report(self, node, what):
        self.found.append(f"{self.path}:{node.lineno}: {what} outside store/: {ast.unparse(node)}")

    def visit_BinOp(self, node):
        if isinstance(node.op, ast.Div):
            text = _literal(node.right)
            if _rooted(node.left, self.scope[-1]):
                self._report(node, "a path inside OUT built")
            elif text is not None and text.split("/")[0] in self.reserved:
                self._report(node, "a name the store reserves in OUT joined")
        self.generic_visit(node)

    def visit_Call(self, node):
        f, scope = node.func, self.scope[-1]
        if (isinstance(f, ast.Attribute) and f.attr in JOIN_METHODS and _rooted(f.value, scope)) or (
                (isinstance(f, ast.Name) and f.id in PATH_CALLS or ast.unparse(f) == "os.path.join")
                and len(node.args) > 1 and _rooted(node.args[0], scope)):
            self._report(node, "a path inside OUT built")
        self.generic_visit(node)

    def _text(self, node):
        text = _literal(node)
        if text and not any(c.isspace() for c in text) and "/" in text and text.split("/")[0] in self.reserved:
            self._report(node, "an OUT-relative name spelled")

    def visit_Constant(self, node):
        self._text(node)

    def visit_JoinedStr(self, node):
        self._text(node)  # its parts are not visited: the whole f-string is the name


def out_path_violations(sources, reserved):
    found = []
    for path, text in sources.items():
        if not path.startswith("ecomctl/store/"):
            tree = ast.parse(text, path)
            sinks = _Sinks(path, reserved, rooted_names(tree))
            sinks.visit(tree)
            found += sinks.found
    return found


def _out_violations(sources: dict[str, str]) -> list[str]:
    from ecomctl.store import RESERVED_NAMES  # the names the store reserves at the top of OUT

    return out_path_violations(sources, RESERVED_NAMES)


def test_only_the_store_builds_paths_inside_out():
    problems = _out_violations(_sources())
    assert not problems, "\n".join(problems)


def test_a_path_built_inside_out_outside_the_store_is_reported():
    """The check can fail: each way of building a path inside OUT, outside store/, is found; the same code
    inside store/, and joins onto folders that are not OUT, are not."""
    bad = """
from pathlib import Path
from ecomctl.store import OutputStore

def reference(out, name):
    return out / "campaigns" / f"{name}.png"

def thumb(out_dir, row):
    base = Path(out_dir).resolve()
    return base / row["image"]

def mask(res, name):
    return res.sidecar.parent.joinpath(name)

def log(folder, sku):
    store = OutputStore(folder)
    return Path(store.root, "logs", sku + ".log")

def each(store):
    for path in store.sidecars():
        _image(path, "x.png")

def _image(path, name):
    return path.parent / name

def summary(name):
    return {"reference": f"campaigns/{name}.png"}

def elsewhere(corpus, models):
    return corpus / "stats.json", models / "model_index.json", Path("~/.cache/huggingface")
"""
    assert _out_violations({"ecomctl/qa/bad.py": bad, "ecomctl/store/fine.py": bad}) == [
        "ecomctl/qa/bad.py:6: a path inside OUT built outside store/: out / 'campaigns' / f'{name}.png'",
        "ecomctl/qa/bad.py:6: a path inside OUT built outside store/: out / 'campaigns'",
        "ecomctl/qa/bad.py:10: a path inside OUT built outside store/: base / row['image']",
        "ecomctl/qa/bad.py:13: a path inside OUT built outside store/: res.sidecar.parent.joinpath(name)",
        "ecomctl/qa/bad.py:17: a path inside OUT built outside store/: Path(store.root, 'logs', sku + '.log')",
        "ecomctl/qa/bad.py:24: a path inside OUT built outside store/: path.parent / name",
        "ecomctl/qa/bad.py:27: an OUT-relative name spelled outside store/: f'campaigns/{name}.png'",
    ]


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
