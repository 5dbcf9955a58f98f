"""Load stage, photos by URL: an http(s) `image` is checked at validation (scheme, allowed host) and fetched
before rendering into OUT's photo cache (store.photo), whose file every later stage reads as the photo."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ecomctl.feed import Feed
from ecomctl.textsafe import hide_credentials, neutralise
from ecomctl.types import ItemResult, SkuRow

if TYPE_CHECKING:  # requests loads only when a manifest has photos by URL
    import requests

    from ecomctl.config import InputConfig
    from ecomctl.store import OutputStore

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
RETRY_STATUS = frozenset({500, 502, 503, 504})  # a CDN's passing trouble; 4xx are answers, not retried
CHUNK = 1 << 16


def is_url(text: str) -> bool:
    """`scheme://…` (a Windows path such as C:\\photos\\a.png is not one)."""
    return bool(_URL.match(text))


def url_problem(url: str, hosts: list[str] | None) -> str | None:
    """Why a manifest may not name `url` as its photo (None: it may): a scheme other than http(s), no host,
    or a host that `input.url_hosts` does not list."""
    parts, url = urlsplit(url), hide_credentials(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return f"only http:// and https:// URLs are fetched, not {scheme}://: {url}"
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        return f"bad port in URL: {url}"
    if not host:
        return f"URL without a host: {url}"
    if hosts is not None and not host_allowed(host, port, hosts):
        listed = ", ".join(hosts) or "empty"
        return f"host {host!r} is not in input.url_hosts ({listed}): {url}"
    return None


def host_allowed(host: str, port: int | None, hosts: list[str]) -> bool:
    """`cdn.example.com` allows that host, `*.example.com` its subdomains; `host:port` only that port."""
    host = host.lower()
    for entry in hosts:
        name, _, want = entry.partition(":")
        if want and port != int(want):
            continue
        if host == name or (name.startswith("*.") and host.endswith(name[1:])):
            return True
    return False


class FetchError(Exception):
    """A photo that could not be fetched; str: why, one line (the URL is added by the caller)."""


def fetch_ahead(rows: list[SkuRow], store: OutputStore, settings: InputConfig) -> Feed:
    """The rows as a Feed for the executor: rows with a local photo at once, in manifest order; a URL row once
    its photo is up to date in the cache (a conditional request when a copy is there), bound to the cached
    file, or an error row naming the URL and why. Every distinct URL is fetched once, `url_concurrency` at a
    time, in manifest order, on threads of this process, while the workers render what has arrived. Each
    download is bounded (timeouts × tries, url_download_timeout), so the feed always closes; a full or
    read-only OUT closes it with that error (a run fault: the runner stops). Cancelling the feed drops the
    downloads not started."""
    feed = Feed(planned=rows, open=True)
    feed.put(*(r for r in rows if not r.url))
    waiting: dict[str, list[SkuRow]] = {}
    for row in rows:
        if row.url:
            waiting.setdefault(row.url, []).append(row)
    tend_cache(store, list(waiting), settings.url_cache_days)
    if not waiting:
        feed.close()
        return feed
    pool = ThreadPoolExecutor(min(settings.url_concurrency, len(waiting)), thread_name_prefix="ecomctl-photo")
    stop = threading.Event()  # the run stopped: a download under way ends at its next read, storing nothing
    feed.on_cancel(lambda: (stop.set(), pool.shutdown(wait=False, cancel_futures=True)))
    left = [len(waiting)]
    lock = threading.Lock()

    def done(url: str, fut: Future[str | None]) -> None:
        if fut.cancelled():
            return
        error = fut.exception()
        if error is None:
            _deliver(feed, waiting[url], store, fut.result())
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if error is not None:
            feed.close(error)
        elif last:
            feed.close()
            pool.shutdown(wait=False)

    for url in waiting:
        fut = pool.submit(_fetch_quietly, url, store, settings, stop)
        fut.add_done_callback(lambda f, u=url: done(u, f))
    return feed


def _deliver(feed: Feed, rows: list[SkuRow], store: OutputStore, why: str | None) -> None:
    """The rows of one URL into the feed: bound to the cached photo, or each an error row."""
    if why is None:
        feed.put(*(replace(r, image=store.photo(r.url or "")) for r in rows))
    else:
        feed.put_result(*(ItemResult(sku=r.sku, variant=None, status="error", where=r.where,
                                     error=neutralise(hide_credentials(f"{r.url}: {why}"))) for r in rows))


def tend_cache(store: OutputStore, urls: list[str], days: float) -> int:
    """The photo cache's upkeep at the start of a run: each cached photo the run's manifest names is marked
    used now (its .json's mtime; the photo file itself is not touched, so its stat still matches the
    sidecars); a photo no run has named for `days` days (input.url_cache_days; 0: keep all) is deleted with
    its .json. Returns how many photos were deleted."""
    folder = store.photo_cache
    if not folder.is_dir():
        return 0
    used = {store.photo(u).stem for u in urls}
    now = time.time()
    for url in set(urls):
        with contextlib.suppress(OSError):
            os.utime(store.photo_validators(url), (now, now))
    if not days:
        return 0
    named: dict[str, float] = {}  # stem → when a run last named it (its .json's mtime)
    files: dict[str, float] = {}  # stem → its newest file (a photo whose .json is gone)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        stem = entry.name.split(".", 1)[0]
        if stem in used or entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
            continue
        with contextlib.suppress(OSError):
            mtime = entry.stat(follow_symlinks=False).st_mtime
            if entry.name.endswith(".json"):
                named[stem] = mtime
            files[stem] = max(files.get(stem, 0.0), mtime)
    old = {stem for stem, t in files.items() if now - named.get(stem, t) > days * 86400}
    for entry in entries:
        if entry.name.split(".", 1)[0] in old:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
    return len(old)


def fetch_rows(rows: list[SkuRow], store: OutputStore, settings: InputConfig
               ) -> tuple[list[SkuRow], list[ItemResult]]:
    """`fetch_ahead`, waited for: the rows to render and the error rows, both in manifest order."""
    feed = fetch_ahead(rows, store, settings)
    try:
        ready = list(feed)
    finally:
        feed.cancel()
    order = {r.sku: i for i, r in enumerate(rows)}
    return (sorted(ready, key=lambda r: order[r.sku]),
            sorted(feed.results(), key=lambda r: order[r.sku]))


def _map(fn: Callable[[str], str | None], urls: list[str], workers: int) -> Iterator[str | None]:
    """`fn` over `urls` on a few threads, in order; Ctrl-C drops the requests not started."""
    pool = ThreadPoolExecutor(min(workers, len(urls)), thread_name_prefix="ecomctl-photo")
    try:
        yield from pool.map(fn, urls)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def check_urls(rows: list[SkuRow], settings: InputConfig) -> list[str]:
    """`validate --check-urls`: a HEAD request per distinct photo URL (GET, headers only, where HEAD is not
    allowed), with the fetch's timeouts, retries and redirect limit; one line per row whose URL does not
    answer 200 (`file:row: image: URL: why`). Nothing is downloaded or stored."""
    urls = list(dict.fromkeys(r.url for r in rows if r.url))
    if not urls:
        return []
    why = dict(zip(urls, _map(lambda u: _head_quietly(u, settings), urls, settings.url_concurrency)))
    return [neutralise(hide_credentials(f"{r.url_where or r.where}: image: {r.url}: {why[r.url]}"))
            for r in rows if r.url and why.get(r.url)]


def _head_quietly(url: str, settings: InputConfig) -> str | None:
    import requests

    session, timeout = _session(settings), (settings.url_connect_timeout, settings.url_read_timeout)
    try:
        r = session.head(url, allow_redirects=True, timeout=timeout)
        if r.status_code in (405, 501):  # no HEAD here: a GET whose body is never read
            with session.get(url, stream=True, timeout=timeout) as r:
                pass
    except requests.RequestException as e:
        return _why(e, settings)
    except FetchError as e:  # a redirect off the allow-list
        return str(e)
    if r.status_code != 200:
        return _status(r.status_code, settings)
    length = r.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > settings.url_max_mb * 1024 * 1024 and not r.headers.get("Content-Encoding"):
        return f"larger than {settings.url_max_mb:g} MB (input.url_max_mb)"
    return None


def _status(code: int, settings: InputConfig) -> str:
    tries = f" ({settings.url_retries + 1} tries)" if code in RETRY_STATUS and settings.url_retries else ""
    return f"HTTP {code}{tries}"


_LOCAL = threading.local()  # one requests.Session per download thread (a Session is not thread-safe)


def _fetch_quietly(url: str, store: OutputStore, settings: InputConfig,
                   stop: threading.Event | None = None) -> str | None:
    """None when the cached photo is current, else why it could not be fetched."""
    try:
        fetch(url, store, settings, _session(settings), stop)
    except FetchError as e:
        return str(e)
    except OSError as e:
        from ecomctl.store.files import fault_of

        if fault_of(e) is not None:  # a full or read-only OUT: a run fault (the runner stops), not N error rows
            raise
        return f"cannot store the download ({e.strerror or e})"
    return None


def _session(settings: InputConfig) -> requests.Session:
    hosts = settings.url_hosts
    key = (settings.url_retries, settings.url_max_redirects, None if hosts is None else tuple(hosts))
    if getattr(_LOCAL, "key", None) != key:
        _LOCAL.session, _LOCAL.key = make_session(settings), key
    return _LOCAL.session


def make_session(settings: InputConfig) -> requests.Session:
    """A Session that retries connect errors, timeouts and 5xx `url_retries` times with exponential
    backoff (0.5 s, 1 s, 2 s … at most 8 s; a Retry-After header is not waited on: the run's time stays
    bounded) and follows at most `url_max_redirects` redirects, each to a host `url_hosts` allows."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    quiet = logging.getLogger("urllib3.connectionpool")
    if quiet.level == logging.NOTSET:  # its "Retrying …" warnings would reach stderr; the error row says it
        quiet.setLevel(logging.ERROR)
    n = settings.url_retries
    retry = Retry(total=n, connect=n, read=n, status=n, other=0, redirect=False, backoff_factor=0.5,
                  backoff_max=8, status_forcelist=RETRY_STATUS, allowed_methods=frozenset({"GET", "HEAD"}),
                  raise_on_status=False, respect_retry_after_header=False)
    session = requests.Session()
    session.max_redirects = settings.url_max_redirects
    session.headers["User-Agent"] = "ecomctl (photo fetch)"
    for prefix in ("http://", "https://"):
        session.mount(prefix, HTTPAdapter(max_retries=retry, pool_maxsize=4))
    if settings.url_hosts is not None:
        session.hooks["response"].append(_redirect_guard(settings.url_hosts))
    return session


def _redirect_guard(hosts: list[str]) -> Callable[..., None]:
    """A response hook (it sees every hop) refusing a redirect to a host the allow-list does not name: the
    list would mean little if an allowed CDN could send the download anywhere."""
    from urllib.parse import urljoin

    def check(r: requests.Response, *args: Any, **kwargs: Any) -> None:
        if not r.is_redirect:
            return
        target = urljoin(r.url, r.headers.get("Location", ""))
        why = url_problem(target, hosts)
        if why:
            r.close()
            raise FetchError(f"redirected ({r.status_code}) to {target}, refused: {why.rsplit(': ', 1)[0]}")

    return check


def fetch(url: str, store: OutputStore, settings: InputConfig, session: requests.Session,
          stop: threading.Event | None = None) -> bool:
    """Bring the cached copy of `url` up to date; True when new bytes were stored. With a cached copy the
    request is conditional (If-None-Match / If-Modified-Since): 304 keeps the file untouched, so its stat,
    and the digest a sidecar recorded for it, stay valid. Raises FetchError."""
    import requests
    from urllib3.exceptions import HTTPError

    path, meta_path = store.photo(url), store.photo_validators(url)
    meta = _validators(meta_path, url) if path.is_file() else {}
    headers = {k: meta[f] for k, f in (("If-None-Match", "etag"), ("If-Modified-Since", "last_modified"))
               if meta.get(f)}
    try:
        with session.get(url, headers=headers, stream=True,
                         timeout=(settings.url_connect_timeout, settings.url_read_timeout)) as r:
            if r.status_code == 304 and headers:
                return False
            if r.status_code != 200:
                raise FetchError(_status(r.status_code, settings))
            _store_body(r, path, settings, stop)
            new = {"url": hide_credentials(url), "etag": r.headers.get("ETag"),
                   "last_modified": r.headers.get("Last-Modified")}
    except (requests.RequestException, HTTPError) as e:  # urllib3's own from reading the body (read1)
        raise FetchError(_why(e, settings)) from None
    try:
        _check_image(path)
    except FetchError:
        path.unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)
        raise
    from ecomctl.store import atomic_write_json

    atomic_write_json(meta_path, new)
    return True


def _validators(meta_path: Path, url: str) -> dict[str, Any]:
    """The ETag / Last-Modified stored with the cached copy (nothing when unreadable or for another URL)."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) and meta.get("url") == hide_credentials(url) else {}


def _store_body(r: requests.Response, path: Path, settings: InputConfig,
                stop: threading.Event | None = None) -> None:
    """The body streamed into the cache file (atomically: a failed download leaves the old copy whole),
    refused as soon as it passes `url_max_mb` (counted after any Content-Encoding is undone) or takes longer
    than `url_download_timeout`."""
    from ecomctl.store.files import atomic_writer

    cap = int(settings.url_max_mb * 1024 * 1024)
    too_big = FetchError(f"larger than {settings.url_max_mb:g} MB (input.url_max_mb)")
    length = r.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > cap and not r.headers.get("Content-Encoding"):
        raise too_big
    n, deadline = 0, time.monotonic() + settings.url_download_timeout
    with atomic_writer(path) as f:
        # read1: whatever one read brings (each within url_read_timeout), so a host that trickles a byte at a
        # time still meets the deadline; iter_content would wait for whole chunks
        while chunk := r.raw.read1(CHUNK, decode_content=True):
            n += len(chunk)
            if n > cap:
                raise too_big
            if stop is not None and stop.is_set():  # the run is over: nothing more is written into OUT
                raise FetchError("the run stopped")
            if time.monotonic() > deadline:
                raise FetchError(f"still downloading after {settings.url_download_timeout:g} s "
                                 "(input.url_download_timeout)")
            f.write(chunk)
    if n == 0:
        path.unlink(missing_ok=True)
        raise FetchError("empty body (HTTP 200 with no bytes)")


def _check_image(path: Path) -> None:
    """The downloaded bytes are an image within the decompression-bomb limit local photos have (io.open_image
    refuses the same when a worker decodes it): read from the header, nothing decoded here."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        from ecomctl.io import bomb_reason

        raise FetchError(bomb_reason(e)) from None
    except Exception:  # noqa: BLE001 — Pillow raises anything on bytes that are not an image
        raise FetchError("the response is not an image Pillow can read") from None
    if not (w and h):
        raise FetchError("the response is an image of no pixels")


def _why(e: BaseException, settings: InputConfig) -> str:
    """One line for a failed request: a timeout says which and after how long, else what went wrong."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    chain = _chain(e)
    tries = f" ({settings.url_retries + 1} tries)" if settings.url_retries else ""
    if isinstance(e, requests.TooManyRedirects):
        return f"more than {settings.url_max_redirects} redirects (input.url_max_redirects)"
    if any(isinstance(x, NameResolutionError) for x in chain):
        return "cannot resolve the host name"
    if any(isinstance(x, NewConnectionError) for x in chain):  # before timeouts: urllib3 files it under them
        return f"cannot connect (connection refused or unreachable){tries}"
    if any(isinstance(x, (requests.ConnectTimeout, ConnectTimeoutError)) for x in chain):
        return f"could not connect within {settings.url_connect_timeout:g} s{tries}"
    if any(isinstance(x, (requests.Timeout, Urllib3Timeout)) for x in chain):
        return f"timed out after {settings.url_read_timeout:g} s{tries}"
    if isinstance(e, requests.exceptions.SSLError):
        return "TLS error (certificate or protocol)"
    first = (str(chain[-1]) or type(chain[-1]).__name__).splitlines()[0]
    return f"request failed: {first[:200]}"


def _chain(e: BaseException) -> list[BaseException]:
    """The exception and what it wraps (requests wraps urllib3's MaxRetryError, which holds the reason)."""
    out: list[BaseException] = []
    todo: list[Any] = [e]
    while todo:
        x = todo.pop()
        if not isinstance(x, BaseException) or x in out or len(out) > 10:
            continue
        out.append(x)
        todo += [getattr(x, "reason", None), x.__cause__, x.__context__, *x.args[:1]]
    return out
