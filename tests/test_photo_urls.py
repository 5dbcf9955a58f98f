"""Photos by URL: validation (scheme, input.url_hosts), fetching (cache, conditional requests, retries, timeouts,
size cap, redirects) and a render whose URLs include a 404 and a server that never answers. Loopback only."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecomctl.cli import app
from ecomctl.config import load_config
from ecomctl.errors import ConfigError, ManifestError
from ecomctl.manifest import load_manifest
from ecomctl.photos import fetch_rows
from ecomctl.store import OutputStore
from tests.conftest import make_product, write_manifest

runner = CliRunner()


def _png(tmp_path: Path, name: str, size: tuple[int, int] = (300, 400)) -> bytes:
    return make_product(tmp_path / name, size).read_bytes()


class Site:
    """What the test server serves, and every request it saw (path, whether it was conditional, status)."""

    def __init__(self) -> None:
        self.photos: dict[str, tuple[bytes, str]] = {}  # path → (body, etag)
        self.seen: list[tuple[str, bool, int]] = []
        self.methods: list[str] = []
        self.dated: dict[str, tuple[bytes, str]] = {}  # path → (body, Last-Modified)
        self.flaky_failures = 1
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.gate_served = False

    def put(self, path: str, body: bytes) -> None:
        with self.lock:
            self.photos[path] = (body, f'"{len(self.seen)}-{hash(body) & 0xffffff:x}"')

    def hits(self, prefix: str = "/p/") -> list[tuple[str, bool, int]]:
        return [s for s in self.seen if s[0].startswith(prefix)]


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
            conditional = bool(self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since"))
            site.seen.append((self.path, conditional, status))
            site.methods.append(self.command)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k.replace("_", "-"), v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            if self.path == "/nohead.png":
                return self._send(405, Allow="GET")
            return self.do_GET()

        def do_GET(self) -> None:
            if self.path in site.photos:
                body, etag = site.photos[self.path]
                if self.headers.get("If-None-Match") == etag:
                    return self._send(304, ETag=etag)
                return self._send(200, body, ETag=etag, Content_Type="image/png",
                                  Last_Modified="Mon, 07 Dec 2026 01:00:00 GMT")
            if self.path == "/nohead.png":
                return self._send(200, site.photos["/p/a.png"][0])
            if self.path == "/p/plain.png":  # no validators at all: every night a full download
                return self._send(200, site.photos["/p/a.png"][0])
            if self.path in site.dated:  # Last-Modified only, no ETag
                body, stamp = site.dated[self.path]
                if self.headers.get("If-Modified-Since") == stamp:
                    return self._send(304)
                return self._send(200, body, Last_Modified=stamp)
            if self.path == "/flaky.png":
                with site.lock:
                    fail, site.flaky_failures = site.flaky_failures > 0, site.flaky_failures - 1
                return self._send(500) if fail else self._send(200, site.photos["/p/a.png"][0])
            if self.path == "/away.png":  # off to another host name of this same server
                return self._send(302, Location=f"http://localhost:{self.server.server_address[1]}/p/a.png")
            if self.path == "/loop.png":
                return self._send(302, Location="/loop.png")
            if self.path == "/big.png":  # no Content-Length: the cap must stop the stream itself
                site.seen.append((self.path, False, 200))
                self.send_response(200)
                self.end_headers()
                for _ in range(64):
                    self.wfile.write(b"\0" * 16384)
                return None
            if self.path == "/trickle.png":  # a byte every 50 ms: each read is quick, the whole never ends
                site.seen.append((self.path, False, 200))
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                for _ in range(2000):
                    self.wfile.write(b"\0")
                    self.wfile.flush()
                    time.sleep(0.05)
                return None
            if self.path == "/gate.png":  # a byte every 0.1 s until the test opens the gate (or 60 s pass)
                body = site.photos["/p/a.png"][0]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                sent, t0 = 0, time.monotonic()
                while not site.gate.wait(0.1) and time.monotonic() - t0 < 60 and sent < len(body) - 1:
                    self.wfile.write(body[sent:sent + 1])
                    self.wfile.flush()
                    sent += 1
                site.gate_served = True
                self.wfile.write(body[sent:])
                return None
            if self.path == "/text.png":
                return self._send(200, b"<html>not a photo</html>", Content_Type="text/html")
            return self._send(404)

    return Handler


@pytest.fixture
def site() -> Iterator[tuple[Site, str]]:
    s = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(s))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield s, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent() -> Iterator[str]:
    """A server that accepts connections and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    t.join()
    for c in held:
        c.close()
    sock.close()


def _settings(**over: object):
    base = {"input.url_read_timeout": 0.5, "input.url_connect_timeout": 0.5, "input.url_retries": 1}
    return load_config(overrides={**base, **over}).input


def _rows(tmp_path: Path, urls: list[str], hosts: list[str] | None = None):
    m = write_manifest(tmp_path / "m.csv", [{"sku": f"S{i}", "image": u, "title": "T"} for i, u in enumerate(urls)])
    return list(load_manifest(m, "256x256", 1, url_hosts=hosts).rows)


# validation ---------------------------------------------------------------------------------------------------

def test_validation_accepts_http_urls_and_names_other_schemes_at_file_row_column(tmp_path: Path):
    m = write_manifest(tmp_path / "m.csv", [
        {"sku": "A", "title": "T", "image": "https://cdn.example.com/a.png"},
        {"sku": "B", "title": "T", "image": "ftp://cdn.example.com/b.png"},
        {"sku": "C", "title": "T", "image": "file:///etc/passwd"},
        {"sku": "D", "title": "T", "image": "http:///nohost.png"},
    ])
    with pytest.raises(ManifestError) as e:
        load_manifest(m)
    assert e.value.problems == [
        f"{m}:3:3: image: only http:// and https:// URLs are fetched, not ftp://: ftp://cdn.example.com/b.png",
        f"{m}:4:3: image: only http:// and https:// URLs are fetched, not file://: file:///etc/passwd",
        f"{m}:5:3: image: URL without a host: http:///nohost.png",
    ]


def test_url_hosts_is_an_allow_list(tmp_path: Path):
    urls = ["https://cdn.example.com/a.png", "https://img.shop.example.org/b.png", "https://evil.test/c.png"]
    rows = _rows(tmp_path, urls[:2], hosts=["cdn.example.com", "*.example.org"])
    assert [r.url for r in rows] == urls[:2]
    with pytest.raises(ManifestError) as e:
        _rows(tmp_path, urls, hosts=["cdn.example.com", "*.example.org"])
    assert e.value.problems == [(f"{tmp_path / 'm.csv'}:4:2: image: host 'evil.test' is not in input.url_hosts "
                                 "(cdn.example.com, *.example.org): https://evil.test/c.png")]
    with pytest.raises(ConfigError, match="input.url_hosts.*'cdn example' is not a host name"):
        load_config(overrides={"input.url_hosts": ["cdn example"]})


def test_a_redirect_to_a_host_off_the_allow_list_is_refused(tmp_path: Path, site):
    s, base = site
    s.put("/p/a.png", _png(tmp_path, "a.png"))
    url = f"{base}/away.png"
    store = OutputStore(tmp_path / "out")
    _, failed = fetch_rows(_rows(tmp_path, [url]), store, _settings(**{"input.url_hosts": ["127.0.0.1"]}))
    target = f"http://localhost:{base.rsplit(':', 1)[1]}/p/a.png"
    assert failed[0].error == (f"{url}: redirected (302) to {target}, refused: host 'localhost' is not in "
                               "input.url_hosts (127.0.0.1)")
    assert s.hits() == [] and not store.photo(url).exists()
    both = _settings(**{"input.url_hosts": ["127.0.0.1", "localhost"]})
    _, failed = fetch_rows(_rows(tmp_path, [url]), store, both)
    assert failed == [] and store.photo(url).read_bytes() == s.photos["/p/a.png"][0]


def test_validate_downloads_nothing(tmp_path: Path, site):
    s, base = site
    s.put("/p/a.png", _png(tmp_path, "a.png"))
    m = write_manifest(tmp_path / "m.csv", [{"sku": "A", "title": "T", "image": f"{base}/p/a.png"}])
    res = runner.invoke(app, ["validate", str(m)])
    assert res.exit_code == 0, res.output
    assert "1 photo URL checked as URLs only (render and extract download them; --check-urls asks their hosts)" in res.stdout
    assert s.seen == []


def test_validate_check_urls_asks_each_host_and_downloads_nothing(tmp_path: Path, site, silent):
    s, base = site
    s.put("/p/a.png", _png(tmp_path, "a.png"))
    m = write_manifest(tmp_path / "m.csv", [
        {"sku": "A", "title": "T", "image": f"{base}/p/a.png"},
        {"sku": "B", "title": "T", "image": f"{base}/gone.png"},
        {"sku": "C", "title": "T", "image": f"{silent}/slow.png"},
        {"sku": "D", "title": "T", "image": f"{base}/p/a.png"},
    ])
    cfg = tmp_path / "c.yaml"
    cfg.write_text("input:\n  url_read_timeout: 0.5\n  url_retries: 0\n", encoding="utf-8")
    res = runner.invoke(app, ["validate", str(m), "--config", str(cfg), "--check-urls"])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [f"error: {m}:3:3: image: {base}/gone.png: HTTP 404",
                                       f"error: {m}:4:3: image: {silent}/slow.png: timed out after 0.5 s"]
    assert sorted(s.seen) == [("/gone.png", False, 404), ("/p/a.png", False, 200)]  # one per distinct URL
    assert s.methods == ["HEAD", "HEAD"]
    ok = write_manifest(tmp_path / "ok.csv", [{"sku": "A", "title": "T", "image": f"{base}/p/a.png"},
                                              {"sku": "B", "title": "T", "image": f"{base}/nohead.png"}])
    res = runner.invoke(app, ["validate", str(ok), "--config", str(cfg), "--check-urls"])
    assert res.exit_code == 0 and "2 photo URLs answered (HEAD)" in res.stdout, res.output
    assert sorted(s.methods[2:]) == ["GET", "HEAD", "HEAD"]  # HEAD refused (405): a GET whose body is not read (the two URLs are asked at once: any order)
    assert not (tmp_path / "out").exists()


def test_check_urls_names_the_cell_of_an_excel_manifest(tmp_path: Path, site):
    openpyxl = pytest.importorskip("openpyxl")
    _, base = site
    wb = openpyxl.Workbook()
    wb.active.append(["sku", "title", "price", "image"])
    wb.active.append(["A", "T", "9", f"{base}/gone.png"])
    wb.save(tmp_path / "m.xlsx")
    res = runner.invoke(app, ["validate", str(tmp_path / "m.xlsx"), "--check-urls"])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [f"error: {tmp_path / 'm.xlsx'}:2:D: image: {base}/gone.png: HTTP 404"]


@pytest.mark.slow
def test_credentials_in_a_photo_url_are_never_shown(tmp_path: Path, site):
    """A URL's user:password is sent (Basic auth) but every line, log, report and sidecar shows ***."""
    s, base = site
    s.put("/p/a.png", _png(tmp_path, "a.png"))
    host = base.removeprefix("http://")
    secret = f"http://shop:s3cr@t@{host}"  # an unescaped '@' in the password, as people write them
    m = write_manifest(tmp_path / "m.csv", [{"sku": "A", "title": "T", "image": f"{secret}/p/a.png"},
                                            {"sku": "B", "title": "T", "image": f"{secret}/gone.png"},
                                            {"sku": "C", "title": "T", "image": f"ftp://shop:s3cr@t@{host}/c.png"}])
    res = runner.invoke(app, ["validate", str(m)])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [(f"error: {m}:4:3: image: only http:// and https:// URLs are fetched, not "
                                       f"ftp://: ftp://***@{host}/c.png")]
    write_manifest(m, [{"sku": "A", "title": "T", "image": f"{secret}/p/a.png"},
                       {"sku": "B", "title": "T", "image": f"{secret}/gone.png"}])
    res = runner.invoke(app, ["validate", str(m), "--check-urls"])
    assert res.stderr.splitlines() == [f"error: {m}:3:3: image: http://***@{host}/gone.png: HTTP 404"]
    cfg = tmp_path / "c.yaml"
    cfg.write_text("qa:\n  text:\n    enabled: false\nrender:\n  size: 256x256\n  variants: 1\n", encoding="utf-8")
    out, log = tmp_path / "out", tmp_path / "run.jsonl"
    res = runner.invoke(app, ["render", str(m), "--out", str(out), "--config", str(cfg), "--log-json", str(log)])
    assert res.exit_code == 1, res.output
    assert f"B  http://***@{host}/gone.png: HTTP 404" in res.stdout
    written = [p for p in [log, *out.rglob("*")] if p.is_file() and p.suffix in (".json", ".jsonl", ".csv",
                                                                                   ".html", ".yaml", ".log")]
    assert written and [p for p in written if "s3cr" in p.read_text(encoding="utf-8")] == []
    assert "s3cr" not in res.output
    assert (out / "A" / "A-v1.png").is_file()  # the credentials were used


# fetching -----------------------------------------------------------------------------------------------------

def test_a_photo_is_cached_with_its_validators_and_the_next_fetch_is_conditional(tmp_path: Path, site):
    s, base = site
    s.put("/p/a.png", _png(tmp_path, "a.png"))
    store, settings = OutputStore(tmp_path / "out"), _settings()
    rows = _rows(tmp_path, [f"{base}/p/a.png", f"{base}/p/a.png"])  # one URL, two SKUs: one download
    ready, failed = fetch_rows(rows, store, settings)
    assert failed == [] and s.hits() == [("/p/a.png", False, 200)]
    cached = store.photo(f"{base}/p/a.png")
    assert [r.image for r in ready] == [cached, cached] and cached.read_bytes() == s.photos["/p/a.png"][0]
    before = cached.stat()
    ready, failed = fetch_rows(rows, store, settings)
    assert failed == [] and s.hits()[1:] == [("/p/a.png", True, 304)]
    after = cached.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)  # untouched on 304
    s.put("/p/a.png", _png(tmp_path, "a2.png", (320, 400)))
    ready, failed = fetch_rows(rows, store, settings)
    assert failed == [] and s.hits()[2:] == [("/p/a.png", True, 200)]
    assert cached.read_bytes() == s.photos["/p/a.png"][0]


def test_last_modified_alone_makes_the_request_conditional(tmp_path: Path, site):
    s, base = site
    s.dated["/d.png"] = (_png(tmp_path, "d.png"), "Mon, 07 Dec 2026 01:00:00 GMT")
    rows, store = _rows(tmp_path, [f"{base}/d.png"]), OutputStore(tmp_path / "out")
    for _ in range(2):
        assert fetch_rows(rows, store, _settings())[1] == []
    s.dated["/d.png"] = (_png(tmp_path, "d2.png", (200, 300)), "Mon, 07 Dec 2026 02:00:00 GMT")
    assert fetch_rows(rows, store, _settings())[1] == []
    assert s.hits("/d") == [("/d.png", False, 200), ("/d.png", True, 304), ("/d.png", True, 200)]
    assert store.photo(f"{base}/d.png").read_bytes() == s.dated["/d.png"][0]


def test_a_decompression_bomb_by_url_is_refused_and_not_kept(tmp_path: Path, site):
    from PIL import Image

    s, base = site
    buf = io.BytesIO()
    Image.new("1", (12000, 12000)).save(buf, "PNG")  # 144 MP of nothing: a few kB on the wire
    s.put("/p/bomb.png", buf.getvalue())
    store = OutputStore(tmp_path / "out")
    _, failed = fetch_rows(_rows(tmp_path, [f"{base}/p/bomb.png"]), store, _settings())
    limit = (Image.MAX_IMAGE_PIXELS or 0) / 1e6
    assert failed[0].error == f"{base}/p/bomb.png: 144 megapixels, over the {limit:.0f} MP limit (a decompression bomb?)"
    assert not store.photo(f"{base}/p/bomb.png").exists()


def test_each_failure_is_one_line_naming_the_url(tmp_path: Path, site, silent):
    s, base = site
    s.put("/p/a.png", _png(tmp_path, "a.png"))
    urls = [f"{base}/p/a.png", f"{base}/missing.png", f"{base}/flaky.png", f"{silent}/slow.png",
            f"{base}/big.png", f"{base}/loop.png", f"{base}/text.png", "http://127.0.0.1:9/refused.png"]
    settings = _settings(**{"input.url_max_mb": 0.5, "input.url_max_redirects": 3})
    t0 = time.monotonic()
    ready, failed = fetch_rows(_rows(tmp_path, urls), OutputStore(tmp_path / "out"), settings)
    took = time.monotonic() - t0
    assert [r.url for r in ready] == [urls[0], urls[2]]  # the 500 was retried and then answered
    assert [(f.sku, f.status, f.variant, f.error) for f in failed] == [
        ("S1", "error", None, f"{urls[1]}: HTTP 404"),
        ("S3", "error", None, f"{urls[3]}: timed out after 0.5 s (2 tries)"),
        ("S4", "error", None, f"{urls[4]}: larger than 0.5 MB (input.url_max_mb)"),
        ("S5", "error", None, f"{urls[5]}: more than 3 redirects (input.url_max_redirects)"),
        ("S6", "error", None, f"{urls[6]}: the response is not an image Pillow can read"),
        ("S7", "error", None, f"{urls[7]}: cannot connect (connection refused or unreachable) (2 tries)"),
    ]
    assert [h[2] for h in s.hits("/flaky")] == [500, 200]
    assert took < 8  # two 0.5 s reads and a backoff, not a hang
    cache = OutputStore(tmp_path / "out").photo_cache
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(".")) == sorted(
        [OutputStore(tmp_path / "out").photo(u).name for u in urls[:3:2]]
        + [OutputStore(tmp_path / "out").photo_validators(u).name for u in urls[:3:2]])  # nothing half-written


def test_a_host_that_trickles_bytes_meets_the_download_deadline(tmp_path: Path, site):
    _, base = site
    t0 = time.monotonic()
    _, failed = fetch_rows(_rows(tmp_path, [f"{base}/trickle.png"]), OutputStore(tmp_path / "out"),
                           _settings(**{"input.url_download_timeout": 1}))
    assert time.monotonic() - t0 < 5
    assert failed[0].error == f"{base}/trickle.png: still downloading after 1 s (input.url_download_timeout)"


def test_a_5xx_that_stays_is_reported_with_its_tries(tmp_path: Path, site):
    s, base = site
    s.flaky_failures = 10
    s.put("/p/a.png", _png(tmp_path, "a.png"))
    _, failed = fetch_rows(_rows(tmp_path, [f"{base}/flaky.png"]), OutputStore(tmp_path / "out"), _settings())
    assert failed[0].error == f"{base}/flaky.png: HTTP 500 (2 tries)"
    assert [h[2] for h in s.hits("/flaky")] == [500, 500]


# a render -----------------------------------------------------------------------------------------------------

def _render(manifest: Path, out: Path, config: Path):
    return runner.invoke(app, ["render", str(manifest), "--out", str(out), "--config", str(config), "-j", "1"])


@pytest.mark.slow
def test_a_render_with_a_404_and_a_silent_server_and_the_nights_after(tmp_path: Path, site, silent):
    s, base = site
    for name in ("a", "b"):
        s.put(f"/p/{name}.png", _png(tmp_path, f"{name}.png"))
    local = make_product(tmp_path / "local.png", (400, 300))
    m = write_manifest(tmp_path / "m.csv", [
        {"sku": "A", "title": "Cream", "image": f"{base}/p/a.png"},
        {"sku": "B", "title": "Mug", "image": f"{base}/p/b.png"},
        {"sku": "GONE", "title": "Gone", "image": f"{base}/gone.png"},
        {"sku": "SLOW", "title": "Slow", "image": f"{silent}/slow.png"},
        {"sku": "L", "title": "Local", "image": local.name},
    ])
    cfg = tmp_path / "c.yaml"
    cfg.write_text("qa:\n  text:\n    enabled: false\nrender:\n  size: 256x256\n  variants: 1\n"
                   "input:\n  url_read_timeout: 1\n  url_retries: 1\n", encoding="utf-8")
    out = tmp_path / "out"
    t0 = time.monotonic()
    res = _render(m, out, cfg)
    assert time.monotonic() - t0 < 60
    assert res.exit_code == 1, res.output
    assert f"GONE  {base}/gone.png: HTTP 404" in res.stdout
    assert f"SLOW  {silent}/slow.png: timed out after 1 s (2 tries)" in res.stdout
    for sku in ("A", "B", "L"):
        assert (out / sku / f"{sku}-v1.png").is_file()
    report = {r["sku"]: r for r in json.loads((out / "report.json").read_text(encoding="utf-8"))["items"]}
    assert report["GONE"]["status"] == "error" and report["GONE"]["error"] == f"{base}/gone.png: HTTP 404"
    side = json.loads((out / "A" / "A-v1.json").read_text(encoding="utf-8"))["inputs"]
    assert side["url"] == f"{base}/p/a.png" and side["image"] == str(OutputStore(out).photo(f"{base}/p/a.png"))

    first = len(s.hits())
    res = _render(m, out, cfg)  # nothing changed: conditional requests answered 304, every poster resumed
    assert res.exit_code == 1
    assert sorted(s.hits()[first:]) == [("/p/a.png", True, 304), ("/p/b.png", True, 304)]
    assert res.stdout.count("(unchanged)") == 3, res.stdout

    s.put("/p/b.png", _png(tmp_path, "b2.png", (400, 300)))  # B's photo changed on the CDN
    second = len(s.hits())
    res = _render(m, out, cfg)
    assert sorted(s.hits()[second:]) == [("/p/a.png", True, 304), ("/p/b.png", True, 200)]
    assert "A-v1 (unchanged)" in res.stdout and "L-v1 (unchanged)" in res.stdout
    assert "B-v1 (unchanged)" not in res.stdout and "B-v1" in res.stdout


@pytest.mark.slow
def test_a_photo_downloaded_again_with_the_same_bytes_is_not_rendered_again(tmp_path: Path, site):
    s, base = site
    s.put("/p/a.png", _png(tmp_path, "a.png"))
    m = write_manifest(tmp_path / "m.csv", [{"sku": "P", "title": "Plain", "image": f"{base}/p/plain.png"}])
    cfg = tmp_path / "c.yaml"
    cfg.write_text("qa:\n  text:\n    enabled: false\nrender:\n  size: 512x512\n  variants: 1\n", encoding="utf-8")
    out = tmp_path / "out"
    assert _render(m, out, cfg).exit_code == 0
    cached = OutputStore(out).photo(f"{base}/p/plain.png")
    before = cached.stat().st_mtime_ns
    time.sleep(0.01)
    res = _render(m, out, cfg)
    assert res.exit_code == 0 and "P-v1 (unchanged)" in res.stdout, res.stdout
    assert s.hits() == [("/p/plain.png", False, 200)] * 2 and cached.stat().st_mtime_ns != before  # rewritten
    side = json.loads((out / "P" / "P-v1.json").read_text(encoding="utf-8"))["inputs"]
    assert side["image_stat"][1] == cached.stat().st_mtime_ns  # the new stat is trusted from now on


@pytest.mark.slow
def test_a_merchant_feed_with_image_urls_renders(tmp_path: Path, site):
    s, base = site
    s.put("/p/a.png", _png(tmp_path, "a.png"))
    feed = tmp_path / "feed.tsv"
    feed.write_text("id\ttitle\tprice\timage_link\tbrand\n"
                    f"A-1\t保湿面霜\t299.00 CNY\t{base}/p/a.png\tHydra\n", encoding="utf-8")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("qa:\n  text:\n    enabled: false\nrender:\n  size: 512x512\n  variants: 1\n", encoding="utf-8")
    res = runner.invoke(app, ["render", str(feed), "--out", str(tmp_path / "out"), "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "pass    A-1-v1" in res.stdout.splitlines()
    assert s.hits() == [("/p/a.png", False, 200)]


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_a_local_photo_renders_while_a_slow_download_is_still_running(tmp_path: Path, site, silent, workers: int):
    """Downloads run ahead of rendering: the SKU with a local photo (after the slow one in the manifest) is
    dispatched and finishes while the slow photo is still held by its server; the slow SKU renders once its
    photo arrives, and the never-answering host is an error row after its timeout. Order, not durations."""
    from ecomctl.engine.runner import run_render

    s, base = site
    s.put("/p/a.png", _png(tmp_path, "a.png"))
    make_product(tmp_path / "local.png", (400, 300))
    m = write_manifest(tmp_path / "m.csv", [
        {"sku": "SLOW", "title": "Slow", "image": f"{base}/gate.png"},
        {"sku": "MUTE", "title": "Mute", "image": f"{silent}/mute.png"},
        {"sku": "L", "title": "Local", "image": "local.png"},
    ])
    cfg = load_config(overrides={"run.out": str(tmp_path / "out"), "run.workers": workers,
                                 "run.executor": "serial" if workers == 1 else "process",
                                 "qa.text.enabled": False, "render.size": "256x256", "render.variants": 1,
                                 "input.url_read_timeout": 0.5, "input.url_retries": 0})
    seen: list[tuple[str, bool]] = []  # (SKU, whether the slow photo had been served when its result came)

    def on_result(res) -> None:
        seen.append((res.sku, s.gate_served))
        if res.sku == "L":
            s.gate.set()

    summary = run_render(m, cfg, on_result=on_result)
    assert ("L", False) in seen  # rendered while the slow download was still held by its server
    assert [sku for sku, _ in seen].index("L") < [sku for sku, _ in seen].index("SLOW")
    by_sku = {r.sku: r for r in summary.results}
    assert by_sku["SLOW"].status != "error" and by_sku["L"].status != "error"
    assert by_sku["MUTE"].error == f"{silent}/mute.png: timed out after 0.5 s"
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))["items"]
    assert [r["sku"] for r in report] == ["MUTE", "L", "SLOW"]  # by status then SKU, whatever finished first


def test_the_photo_cache_forgets_photos_no_run_named_for_its_days(tmp_path: Path):
    import os

    from ecomctl.photos import tend_cache

    store = OutputStore(tmp_path / "out")
    store.photo_cache.mkdir(parents=True)
    urls = {name: f"https://cdn.example.com/{name}.png" for name in ("gone", "back", "fresh")}
    long_ago = time.time() - 40 * 86400
    for name, url in urls.items():
        store.photo(url).write_bytes(b"photo")
        store.photo_validators(url).write_text(json.dumps({"url": url}), encoding="utf-8")
        os.utime(store.photo(url), (long_ago, long_ago))  # downloaded long ago, unchanged since (304s)
        if name != "fresh":
            os.utime(store.photo_validators(url), (long_ago, long_ago))
    photo_stat = store.photo(urls["back"]).stat()
    assert tend_cache(store, [urls["back"]], 0) == 0 and store.photo(urls["gone"]).exists()  # 0: keep all
    assert tend_cache(store, [urls["back"]], 30) == 1  # "back" is named by this run; "fresh" by a recent one
    assert not store.photo(urls["gone"]).exists() and not store.photo_validators(urls["gone"]).exists()
    assert store.photo(urls["fresh"]).exists() and store.photo(urls["back"]).exists()
    assert store.photo_validators(urls["back"]).stat().st_mtime > long_ago + 86400  # marked used now
    after = store.photo(urls["back"]).stat()
    assert (after.st_mtime_ns, after.st_ino) == (photo_stat.st_mtime_ns, photo_stat.st_ino)  # sidecars still match


def test_a_cancelled_run_leaves_no_download_writing(tmp_path: Path, site):
    """Ctrl-C or a full disk cancels the feed: a download under way stops at its next read and stores nothing,
    so nothing writes into OUT once the run has let go of it (the trickling host would go on for 100 s)."""
    from ecomctl.photos import fetch_ahead

    _, base = site
    store = OutputStore(tmp_path / "out")
    feed = fetch_ahead(_rows(tmp_path, [f"{base}/trickle.png"]), store, _settings(**{"input.url_download_timeout": 600}))
    while not [h for h in site[0].seen if h[0] == "/trickle.png"]:  # the download has started
        time.sleep(0.05)
    feed.cancel()
    for t in [t for t in threading.enumerate() if t.name.startswith("ecomctl-photo")]:
        t.join(timeout=30)
        assert not t.is_alive()
    assert list(store.photo_cache.iterdir()) == []  # nothing half-written left behind either


def test_extract_downloads_photos_by_url_into_its_folder_and_asks_again_the_next_time(tmp_path: Path, site):
    """`ecomctl extract` fetches a photo by URL as render does (its --out folder keeps the cache a render's OUT
    keeps): a 404 is that SKU's one error line, the rest are extracted, and the next extract asks with the
    photo's ETag (304: nothing downloaded)."""
    s, base = site
    s.put("/p/a.png", _png(tmp_path, "a.png"))
    make_product(tmp_path / "local.png")
    m = write_manifest(tmp_path / "m.csv", [{"sku": "A", "image": f"{base}/p/a.png", "title": "T"},
                                            {"sku": "GONE", "image": f"{base}/p/gone.png", "title": "T"},
                                            {"sku": "LOCAL", "image": "local.png", "title": "T"}])
    out = tmp_path / "cutouts"
    for night in (1, 2):
        res = runner.invoke(app, ["extract", str(m), "--out", str(out), "--method", "alpha"])
        assert res.exit_code == 1, res.output
        assert res.stdout.splitlines()[:3] == ["ok      A  alpha", f"error   GONE  {m}:3: {base}/p/gone.png: HTTP 404",
                                               "ok      LOCAL  alpha"], night
        assert (out / "A" / "A.cutout.png").is_file()
    assert OutputStore(out).photo(f"{base}/p/a.png").is_file()
    assert sorted(s.hits()) == [("/p/a.png", False, 200), ("/p/a.png", True, 304),
                                ("/p/gone.png", False, 404), ("/p/gone.png", False, 404)]
