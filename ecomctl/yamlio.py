"""YAML in (manifests, config files, styles.yaml): safe constructors only, alias expansion and nesting
bounded, every problem one line `file:line:column: message`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# aliases may add at most this many values beyond EXTRA_FACTOR × the document's own: an anchor reused per
# row is fine, a "billion laughs" document (a few hundred bytes expanding to 10^9 values) is refused
EXTRA_FACTOR = 10
EXTRA_BASE = 10_000


class YamlProblem(Exception):
    """One line: where (1-based line, column) and what; callers add the file name."""

    def __init__(self, line: int, column: int, message: str):
        super().__init__(f"{line}:{column}: {message}")
        self.line, self.column, self.message = line, column, message


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose documents are checked for alias expansion before anything is constructed."""


def _where(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _first_line(e: yaml.YAMLError) -> str:
    """PyYAML's own message without its multi-line source excerpt."""
    problem = getattr(e, "problem", None)
    context = getattr(e, "context", None)
    text = problem or str(e).splitlines()[0]
    if context and problem and "constructor" not in str(context):
        text = f"{text} ({context})"
    return text.strip()


def _check_expansion(root: yaml.Node) -> None:
    """Count the values the document would hold with every alias expanded (shared nodes counted once per
    use) and refuse past the budget: PyYAML builds shared objects, but anything that walks or prints them
    (validation, error messages, JSON) pays for every copy."""
    sizes: dict[int, int] = {}
    distinct = 0

    def size(node: yaml.Node) -> int:
        nonlocal distinct
        key = id(node)
        if key in sizes:
            return sizes[key]
        distinct += 1
        sizes[key] = 1  # a node reachable from itself (a recursive alias) counts once
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(n) for n in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            total = 1
        sizes[key] = total
        if total > EXTRA_BASE * 100 and total > EXTRA_FACTOR * distinct + EXTRA_BASE:
            raise YamlProblem(*_where(node.start_mark), _too_big(total))
        return total

    total = size(root)
    if total > EXTRA_FACTOR * distinct + EXTRA_BASE:
        raise YamlProblem(*_where(root.start_mark), _too_big(total))


def _too_big(total: int) -> str:
    return (f"YAML aliases expand to {total:,} values, far more than the file holds (a 'billion laughs' "
            "document?); write the values out instead of repeating anchors")


def compose(text: str) -> tuple[yaml.Node | None, BoundedLoader]:
    """The node tree of a single-document YAML text (aliases checked), and the loader to construct with."""
    loader = BoundedLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _check_expansion(root)
        return root, loader
    except yaml.MarkedYAMLError as e:
        raise YamlProblem(*_where(e.problem_mark), f"invalid YAML: {_first_line(e)}") from None
    except yaml.YAMLError as e:
        raise YamlProblem(1, 1, f"invalid YAML: {_first_line(e)}") from None
    except RecursionError:
        raise YamlProblem(1, 1, "invalid YAML: nested too deeply") from None
    finally:
        loader.dispose()


def construct(loader: BoundedLoader, node: yaml.Node) -> Any:
    """Plain Python values of one node; a tag other than YAML's standard ones (`!!python/...`) is refused."""
    try:
        return loader.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as e:
        line, col = _where(e.problem_mark or node.start_mark)
        if "could not determine a constructor" in (e.problem or ""):
            raise YamlProblem(line, col, f"YAML tag {_tag(e.problem)} is not allowed (plain values only: "
                                         "text, numbers, lists, mappings)") from None
        raise YamlProblem(line, col, f"invalid YAML: {_first_line(e)}") from None
    except RecursionError:
        raise YamlProblem(*_where(node.start_mark), "invalid YAML: nested too deeply") from None


def _tag(problem: str) -> str:
    tag = problem.rsplit(" ", 1)[-1].strip("'\"")
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag


def load_text(text: str) -> Any:
    root, loader = compose(text)
    return None if root is None else construct(loader, root)


def load_file(path: Path) -> Any:
    """A whole YAML file as plain values; OSError / UnicodeDecodeError / YamlProblem for the caller to word."""
    return load_text(Path(path).read_text(encoding="utf-8"))


def load_settings_file(path: Path, what: str, shown: str | None = None) -> Any:
    """A settings file (config, styles) read for the user: every failure is one ConfigError line naming it."""
    from ecomctl.errors import ConfigError

    shown = shown or str(path)
    try:
        return load_file(path)
    except OSError as e:
        raise ConfigError(f"{shown}: cannot read {what}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{shown}: not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start}); "
                          "save it as UTF-8") from None
    except YamlProblem as e:
        raise ConfigError(f"{shown}:{e}") from None
