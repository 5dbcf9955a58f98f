"""Hostile uses of the command line, table-driven: usage errors, missing extras, unusable outputs and bad
config values each give one line on stderr and exit 2 before any SKU starts, with no traceback.

Every case runs the real console entry point `ecomctl.cli.main` in-process (sys.argv patched), so the
path a user's shell takes (usage errors outside any command, signal traps) is the one tested; the
installed script in a core-only venv is run by tests/test_core_install.py."""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import make_product, write_manifest


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]  # "{t}" is the case's temp folder, "{m}" a valid manifest in it
    first_line: str  # the exact first line of stderr ("{t}" expanded)
    code: int = 2
    files: dict[str, str] = field(default_factory=dict)  # extra files to write first (name → text)
    blocked: tuple[str, ...] = ()  # modules made unimportable (a missing extra)
    env: dict[str, str] = field(default_factory=dict)
    root_skips: bool = False  # root writes anywhere: a read-only folder cannot be shown as root


M = "{m}"
USAGE = [
    Case("unknown-option", ("render", M, "--bogus"),
         "error: No such option: --bogus (Possible options: --columns, --logos, --out) (see 'ecomctl render --help')"),
    Case("unknown-command", ("rendr",),
         "error: No such command 'rendr'. Did you mean 'render'? (see 'ecomctl --help')"),
    Case("missing-argument", ("render",), "error: Missing argument 'manifest'. (see 'ecomctl render --help')"),
    Case("workers-not-int", ("render", M, "--workers", "abc"),
         "error: Invalid value for '--workers' / '-j': Input should be a valid integer, unable to parse "
         "string as an integer (see 'ecomctl render --help')"),
    Case("j-not-int", ("render", M, "-j", "abc"),
         "error: Invalid value for '--workers' / '-j': Input should be a valid integer, unable to parse "
         "string as an integer (see 'ecomctl render --help')"),
    Case("seed-not-int", ("render", M, "--seed", "x1"),
         "error: Invalid value for '--seed': Input should be a valid integer, unable to parse string as an "
         "integer (see 'ecomctl render --help')"),
    Case("option-without-value", ("render", M, "--out"),
         "error: Option '--out' requires an argument. (see 'ecomctl --help')"),
    Case("unknown-subcommand", ("dataset", "buld"),
         "error: No such command 'buld'. Did you mean 'build'? (see 'ecomctl dataset --help')"),
    Case("missing-required-option", ("dataset", "build", "{t}"),
         "error: Missing option '--out' / '-o'. (see 'ecomctl dataset build --help')"),
    Case("root-unknown-option", ("--bogus", "render"),
         "error: No such option: --bogus (see 'ecomctl --help')"),
    Case("eval-without-expect", ("eval", "{t}"),
         "error: Missing option '--expect' / '-e'. (see 'ecomctl eval --help')"),
    Case("bench-without-backend", ("bench",),
         "error: Missing option '--backend' / '-b'. (see 'ecomctl bench --help')"),
    Case("workers-zero", ("render", M, "-j", "0"),
         "error: config run.workers: Input should be greater than or equal to 1"),
    Case("qa-set-without-equals", ("qa", "{t}", "--set", "qa.x"),
         "error: --set 'qa.x': expected KEY=VALUE, e.g. qa.subject.iou_warn=0.98"),
    Case("bench-bad-scale", ("bench", "--backend", "sdxs", "--scale", "huge"),
         "error: --scale 'huge': expected full or tiny"),
    Case("unknown-backend", ("render", M, "--backend", "sdxl"),
         "error: unknown render backend 'sdxl'; did you mean 'sdxs'? (known: compose, composer, flux-fill, "
         "qwen-image, sdxl-inpaint, sdxs)"),
    Case("manifest-missing", ("render", "{t}/nope.csv"), "error: {t}/nope.csv: manifest not found"),
]

_DATASET = "error: ecomctl dataset {} needs pyarrow (not installed): pip install 'ecomctl[dataset]'"
EXTRAS = [
    Case("dataset-build-no-pyarrow", ("dataset", "build", "{t}", "-o", "{t}/corpus"), _DATASET.format("build"),
         blocked=("pyarrow",)),
    Case("dataset-stats-no-pyarrow", ("dataset", "stats", "{t}"), _DATASET.format("stats"), blocked=("pyarrow",)),
    Case("dataset-validate-no-pyarrow", ("dataset", "validate", "{t}"), _DATASET.format("validate"),
         blocked=("pyarrow",)),
    Case("bench-no-torch", ("bench", "--backend", "sdxs", "--random-weights", "--scale", "tiny"),
         "error: ecomctl bench needs torch, diffusers (not installed): pip install 'ecomctl[models]'",
         blocked=("torch", "diffusers")),
    Case("render-diffusion-no-diffusers", ("render", M, "--backend", "sdxs", "-o", "{t}/out"),
         "error: backend 'sdxs' unavailable: diffusers is not installed; install the models extra: "
         "pip install 'ecomctl[models]'", blocked=("diffusers", "torch")),
    Case("render-ray-no-ray", ("render", M, "-o", "{t}/out", "-c", "{t}/ray.yaml"),
         "error: executor 'ray' needs Ray: pip install 'ecomctl[ray]'", files={"ray.yaml": "run:\n  executor: ray\n"},
         blocked=("ray",)),
    Case("extract-grounded-sam-no-torch", ("extract", M, "-o", "{t}/out", "--method", "grounded-sam"),
         "error: subject extractor 'grounded-sam' unavailable: needs torch and transformers (torch is missing); "
         "install the models extra: pip install 'ecomctl[models]'", blocked=("torch", "transformers")),
    Case("render-paddleocr-missing", ("render", M, "-o", "{t}/out", "-c", "{t}/p.yaml"),
         "error: OCR engine 'paddleocr' unavailable: paddleocr is not installed: pip install 'ecomctl[paddle]' "
         "and let it fetch its models once (or set ocr.engine: rapidocr)", files={"p.yaml": "ocr:\n  engine: paddleocr\n"},
         blocked=("paddleocr",)),
]

OUTPUTS = [
    Case("out-is-a-file", ("render", M, "--out", "{t}/afile"),
         "error: output folder {t}/afile: is a file; give a folder to write into", files={"afile": "x"}),
    Case("out-dev-null", ("render", M, "--out", "/dev/null"),
         "error: output folder /dev/null: is not a folder; give a folder to write into"),
    Case("out-proc", ("render", M, "--out", "/proc"),
         "error: output folder /proc: cannot write a file there (No such file or directory)"),
    Case("out-under-proc", ("render", M, "--out", "/proc/ecomctl/out"),
         "error: output folder /proc/ecomctl/out: cannot create it (No such file or directory)"),
    Case("out-under-a-file", ("render", M, "--out", "{t}/afile/sub"),
         "error: output folder {t}/afile/sub: cannot create it ({t}/afile is not a folder)", files={"afile": "x"}),
    Case("out-read-only", ("render", M, "--out", "{t}/ro"),
         "error: output folder {t}/ro: cannot write a file there (Permission denied)", root_skips=True),
    Case("out-empty", ("render", M, "--out", ""),  # an unset $OUT in a cron line: not the current folder
         "error: config run.out: empty output folder; give a path ('.' for the current folder)"),
    Case("out-from-config-is-a-file", ("render", M, "-c", "{t}/o.yaml"),
         "error: output folder {t}/afile: is a file; give a folder to write into",
         files={"afile": "x", "o.yaml": "run:\n  out: {t}/afile\n"}),
    Case("eval-json-is-a-folder", ("eval", "{t}", "--expect", "{t}/e.csv", "--json", "{t}"),
         "error: --json {t}: is a folder; give a file path", files={"e.csv": "file,lines\na.png,x\n"}),
    Case("eval-json-dev-null", ("eval", "{t}", "--expect", "{t}/e.csv", "--json", "/dev/null"),
         "error: --json /dev/null: is not a regular file; give a file path", files={"e.csv": "file,lines\na.png,x\n"}),
    Case("dataset-out-is-a-file", ("dataset", "build", "{t}", "-o", "{t}/afile"),
         "error: --out {t}/afile: is a file; give a folder to write into", files={"afile": "x"}),
    Case("extract-out-is-a-file", ("extract", M, "-o", "{t}/afile"),
         "error: --out {t}/afile: is a file; give a folder to write into", files={"afile": "x"}),
    Case("bench-out-is-a-folder", ("bench", "--backend", "sdxs", "--random-weights", "--scale", "tiny", "-o", "{t}"),
         "error: --out {t}: is a folder; give a file path"),
    Case("qa-out-is-a-file", ("qa", "{t}/afile"), "error: {t}/afile: no such output folder", files={"afile": "x"}),
]


def _cfg(name: str, text: str, first: str) -> Case:
    return Case(name, ("render", M, "-o", "{t}/out", "-c", "{t}/c.yaml"), first, files={"c.yaml": text})


CONFIG = [
    _cfg("size-1x1", "render:\n  size: 1x1\n",
         "error: {t}/c.yaml: config render.size: bad size '1x1': each side must be 256..4096 px"),
    _cfg("size-too-big", "render:\n  size: 9000x9000\n",
         "error: {t}/c.yaml: config render.size: bad size '9000x9000': each side must be 256..4096 px"),
    _cfg("item-timeout-negative", "run:\n  item_timeout: -1\n",
         "error: {t}/c.yaml: config run.item_timeout: Input should be greater than 0"),
    _cfg("item-timeout-zero", "run:\n  item_timeout: 0\n",
         "error: {t}/c.yaml: config run.item_timeout: Input should be greater than 0"),
    _cfg("font-missing", "text:\n  font: {t}/gone.ttf\n",
         "error: {t}/c.yaml: config text.font: font file not found: {t}/gone.ttf"),
    Case("font-not-a-font", ("render", M, "-o", "{t}/out", "-c", "{t}/c.yaml"),
         "error: {t}/c.yaml: config text.font: {t}/fake.ttf is not a font FreeType can read (unknown file "
         "format); give a .ttf/.otf/.ttc", files={"c.yaml": "text:\n  font: {t}/fake.ttf\n", "fake.ttf": "hello"}),
    _cfg("font-is-a-folder", "text:\n  font: {t}\n", "error: {t}/c.yaml: config text.font: font file not found: {t}"),
    _cfg("variants-zero", "render:\n  variants: 0\n",
         "error: {t}/c.yaml: config render.variants: Input should be greater than or equal to 1"),
    _cfg("unknown-key", "run:\n  wrokers: 2\n", "error: {t}/c.yaml: config run.wrokers: Extra inputs are not permitted"),
    _cfg("not-a-mapping", "- a\n- b\n", "error: {t}/c.yaml: config must be a mapping of sections"),
    _cfg("invalid-yaml", "run: [\n", "error: {t}/c.yaml:2:1: invalid YAML: expected the node content, but found "
         "'<stream end>' (while parsing a flow node)"),
    Case("config-missing", ("render", M, "-c", "{t}/nope.yaml"),
         "error: {t}/nope.yaml: cannot read config: No such file or directory"),
    Case("config-is-a-folder", ("render", M, "-c", "{t}"), "error: {t}: cannot read config: Is a directory"),
    Case("env-bad-size", ("render", M, "-o", "{t}/out"), "error: ECOMCTL__RENDER__SIZE: config render.size: bad "
         "size 'huge': use WxH (e.g. 1024x1024) or a preset", env={"ECOMCTL__RENDER__SIZE": "huge"}),
    Case("env-bad-timeout", ("render", M, "-o", "{t}/out"),
         "error: ECOMCTL__RUN__ITEM_TIMEOUT: config run.item_timeout: Input should be greater than 0",
         env={"ECOMCTL__RUN__ITEM_TIMEOUT": "-5"}),
    # a flag's value is the command line's, not the file's that also sets it
    Case("flag-over-file", ("render", M, "-o", "{t}/out", "-c", "{t}/c.yaml", "-j", "0"),
         "error: config run.workers: Input should be greater than or equal to 1", files={"c.yaml": "run:\n  workers: 2\n"}),
]

INPUTS = [  # files the commands read, other than the manifest (tests/test_hostile_inputs.py has those)
    Case("config-not-utf8", ("render", M, "-c", "{t}/latin.yaml"),
         "error: {t}/latin.yaml: not UTF-8 text (byte 0xe9 at offset 15); save it as UTF-8"),
    Case("eval-expect-missing", ("eval", "{t}", "--expect", "{t}/nope.csv"),
         "error: {t}/nope.csv: cannot read expected copy: [Errno 2] No such file or directory: '{t}/nope.csv'"),
    Case("eval-images-missing", ("eval", "{t}/nope", "--expect", "{t}/nope.csv"),
         "error: {t}/nope: no such folder of images"),
    Case("qa-set-bad-yaml", ("qa", "{t}", "--set", "qa.x=["),
         "error: --set 'qa.x=[': invalid YAML: expected the node content, but found '<stream end>' "
         "(while parsing a flow node)"),
    Case("extract-unknown-method", ("extract", M, "-o", "{t}/out", "--method", "nope"),
         "error: unknown subject extractor 'nope' (known: alpha, classical, grounded-sam, saliency)"),
    Case("dataset-source-missing", ("dataset", "build", "{t}/nope", "-o", "{t}/corpus"),
         "error: {t}/nope: not a folder"),
    Case("dataset-stats-not-a-corpus", ("dataset", "stats", "{t}"),
         "error: {t}: no stats.json (not a built corpus? run `ecomctl dataset build` first)"),
    Case("extra-argument", ("models", "list", "nope"),
         "error: Got unexpected extra argument(s) (nope) (see 'ecomctl models list --help')"),
    Case("models-check-unknown-backend", ("models", "check", "nope"),
         "error: unknown render backend 'nope' (known: compose, composer, flux-fill, qwen-image, sdxl-inpaint, sdxs)"),
]

CASES = USAGE + EXTRAS + OUTPUTS + CONFIG + INPUTS


@pytest.fixture
def main_cli(monkeypatch, capsys):
    """Run ecomctl.cli.main with argv; returns (exit code, stdout, stderr). Signal handlers restored."""
    from ecomctl.cli import main

    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def run(argv: list[str]) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["ecomctl", *argv])
        try:
            with pytest.raises(SystemExit) as exc:
                main()
        finally:
            for s, h in saved.items():
                signal.signal(s, h)
        out = capsys.readouterr()
        return exc.value.code, out.out, out.err

    return run


def _block(monkeypatch, modules: tuple[str, ...]) -> None:
    """Make modules unimportable as if their extra were not installed; drop ecomctl modules that imported
    them so the command imports afresh (monkeypatch puts everything back afterwards)."""
    for name in list(sys.modules):
        if name.split(".")[0] in modules or name.startswith(("ecomctl.dataset", "ecomctl.bench")):
            monkeypatch.delitem(sys.modules, name)
    for mod in modules:
        monkeypatch.setitem(sys.modules, mod, None)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_one_line_and_exit_code(case: Case, tmp_path: Path, main_cli, monkeypatch):
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    _block(monkeypatch, case.blocked)
    code, out, err = main_cli(prepare(case, tmp_path))
    check(case, tmp_path, code, out, err)


def prepare(case: Case, tmp_path: Path) -> list[str]:
    """Write the case's manifest and files; the argv with its placeholders filled in."""
    if case.root_skips and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    t = str(tmp_path)
    make_product(tmp_path / "a.png")
    write_manifest(tmp_path / "m.csv", [{"sku": "A", "image": "a.png", "title": "Night Serum", "size": "512x512"}])
    for name, text in case.files.items():
        (tmp_path / name).write_text(text.replace("{t}", t), encoding="utf-8")
    if case.id == "out-read-only":
        (tmp_path / "ro").mkdir(mode=0o555)
    if case.id == "config-not-utf8":
        (tmp_path / "latin.yaml").write_bytes(b"run:\n  out: caf\xe9\n")
    return [a.replace("{m}", str(tmp_path / "m.csv")).replace("{t}", t) for a in case.argv]


def check(case: Case, tmp_path: Path, code: int, out: str, err: str) -> None:
    """Exit code, the exact first line of stderr, one line only, no traceback, nothing written in OUT."""
    assert code == case.code, (out, err)
    lines = err.splitlines()
    assert lines and lines[0] == case.first_line.replace("{t}", str(tmp_path)), err
    assert "Traceback" not in out + err
    assert len(lines) == 1, err  # a YAML error too: line and column go in front (ecomctl.yamlio)
    assert not (tmp_path / "out").exists()  # checked before any SKU: nothing written


def test_at_least_sixty_edge_cases():
    assert len(CASES) >= 60 and len({c.id for c in CASES}) == len(CASES)


# --- signals: the whole run stops, whatever the executor; report written, lock released, resumable ---

def _signal_manifest(tmp_path: Path) -> Path:
    rows = []
    for i in range(6):
        make_product(tmp_path / f"p{i}.png", (300 + 10 * i, 400))
        rows.append({"sku": f"S{i}", "image": f"p{i}.png", "title": f"Serum {i}", "size": "512x512",
                     "variants": "1"})
    return write_manifest(tmp_path / "sig.csv", rows)


def _render_cmd(manifest: Path, out: Path, fast_config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "ecomctl", "render", str(manifest), "-o", str(out), "-c", str(fast_config),
            *extra]


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["TERM", "INT"])
@pytest.mark.parametrize("workers", ["2", "1"], ids=["pool", "serial"])
def test_signal_stops_the_whole_run(sig, code, workers, tmp_path: Path, fast_config: Path):
    import re
    import subprocess

    psutil = pytest.importorskip("psutil")
    manifest, out = _signal_manifest(tmp_path), tmp_path / "out"
    proc = subprocess.Popen(_render_cmd(manifest, out, fast_config, "-j", workers), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    first = proc.stdout.readline()  # one poster finished: the run is mid-way
    assert first.startswith("pass"), first + proc.stderr.read()
    children = psutil.Process(proc.pid).children(recursive=True)
    assert workers == "1" or len(children) >= 2  # the pool's workers (and the manager) are running
    proc.send_signal(sig)
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    name = signal.Signals(sig).name
    pattern = (rf"aborted: {name}: (\d) of 6 posters finished, reported in {re.escape(str(out))}/report.html; "
               "run the same command again to resume")
    lines = err.splitlines()
    match = re.fullmatch(pattern, lines[0]) if lines else None
    assert match and len(lines) == 1 and "Traceback" not in err, err
    gone = psutil.wait_procs(children, timeout=10)[1] == []
    assert gone, [p.pid for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    done = int(match.group(1))
    assert 1 <= done < 6 and len((first + rest).splitlines()) == done
    import json

    reported = json.loads((out / "report.json").read_text())["items"]
    assert len(reported) == done  # what finished is reported
    again = subprocess.run(_render_cmd(manifest, out, fast_config, "-j", workers), capture_output=True,
                           text=True, cwd=tmp_path, timeout=300, check=False)  # the lock was released: it resumes
    assert again.returncode == 0, again.stderr
    lines = [ln for ln in again.stdout.splitlines() if ln.startswith("pass")]
    unchanged = {ln.split()[1] for ln in lines if "(unchanged)" in ln}
    # every reported poster resumes unchanged; a worker may also have finished writing one (atomically,
    # sidecar last) between the signal and its death: that poster is complete, so it resumes unchanged too
    ids = {r["name"] for r in reported}
    assert len(lines) == 6 and ids <= unchanged and len(unchanged) <= done + int(workers), again.stdout


@pytest.mark.slow
def test_a_reader_that_goes_away_does_not_cost_the_run(tmp_path: Path, fast_config: Path):
    """`ecomctl render … | head -1`, or a cron log pipe that dies: the run still finishes and reports."""
    import json
    import subprocess

    manifest, out = _signal_manifest(tmp_path), tmp_path / "out"
    proc = subprocess.Popen(_render_cmd(manifest, out, fast_config), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    assert proc.stdout.readline().startswith("pass")
    proc.stdout.close()  # the reader is gone
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == 0 and err == "", err
    assert len(json.loads((out / "report.json").read_text())["items"]) == 6
