"""End of the data flow: item statuses → order, terminal colour and the command's exit code (one rule each)."""

from __future__ import annotations

from collections.abc import Iterable

STATUS_ORDER = {"error": 0, "fail": 1, "warn": 2, "pass": 3, "skipped": 4}  # worst first
STATUS_COLOURS = {"pass": "green", "ok": "green", "warn": "yellow", "fail": "red", "error": "red", "skipped": "dim"}
FAILED = frozenset({"fail", "error"})


def counted(n: int, word: str, plural: str | None = None) -> str:
    """`1 poster`, `0 posters`, `2 errors`: a count and its noun as a summary line says it."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


def worst(statuses: Iterable[str]) -> str:
    """The worst of `statuses` in STATUS_ORDER (error, fail, warn, pass, skipped); "pass" when there are none."""
    return min(statuses, key=STATUS_ORDER.__getitem__, default="pass")


def exit_code(statuses: Iterable[str]) -> int:
    """0 when every item passed (warnings allowed), 1 when any failed QA or errored. (2, a run that could not
    start, and 3, a run stopped by a disk fault, are the exit codes of EcomctlError / RunFault.)"""
    return 1 if any(s in FAILED for s in statuses) else 0
