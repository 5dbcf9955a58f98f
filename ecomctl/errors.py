"""Errors raised by every stage; the CLI turns them into one clear line on stderr."""

from __future__ import annotations


class EcomctlError(Exception):
    """Base of every error the tool raises on purpose. `str(err)` is the one line shown to users."""

    exit_code = 2


class ConfigError(EcomctlError):
    """Configuration file, environment or flag is invalid."""


class ManifestError(EcomctlError):
    """The manifest cannot be used; `problems` lists every `file:row:column: message`."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class BackendUnavailable(EcomctlError):
    """A backend's extra or weights are missing; the message says how to fix it."""


class BrokenModule(EcomctlError):
    """ecomctl's own code for a registered implementation cannot be imported (a bug or a damaged install:
    SyntaxError, NameError, an ImportError inside ecomctl); the message names the file and line."""


class InputImageError(EcomctlError):
    """A product photo or style image cannot be decoded (corrupt, truncated, too many pixels)."""


class ExtractionError(EcomctlError):
    """Subject extraction failed for one item."""


class RenderError(EcomctlError):
    """Rendering failed for one item."""


class LayoutError(EcomctlError):
    """The copy cannot be fitted into the template."""


class RunFault(EcomctlError):
    """A fault of the run, not of one SKU: the output disk is full (ENOSPC), over quota (EDQUOT), read-only
    (EROFS) or failing (EIO). Dispatch stops at once, finished posters are kept, and the same command resumes
    once the cause is fixed. Exit code 3."""

    exit_code = 3


class Interrupted(BaseException):
    """SIGINT/SIGTERM reached the main process. A BaseException, like KeyboardInterrupt, so no per-SKU
    `except Exception` swallows it; the runner stops its workers, writes the report of what finished,
    releases the output lock and re-raises it with `detail` saying what was kept."""

    def __init__(self, signum: int, detail: str = ""):
        super().__init__(signum, detail)
        self.signum = signum
        self.detail = detail

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM

    def __str__(self) -> str:
        import signal

        name = signal.Signals(self.signum).name
        return f"{name}" + (f": {self.detail}" if self.detail else "")
