"""Rows that reach an executor over time: photos by URL download ahead of rendering (photos.fetch_ahead), so a
SKU whose photo is local is dispatched at once and a URL SKU as soon as its download is done.

The producer (download threads) puts rows and error rows and finally closes the feed; the consumer (the
executor, in the main thread) takes what has arrived without blocking, or waits for the next arrival. A list
of rows is a feed that is already closed (`Feed.of`)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future

from ecomctl.types import ItemResult, SkuRow

Screen = Callable[[SkuRow], "list[ItemResult] | None"]


class Feed:
    """SKU rows in arrival order, plus results no executor makes (a photo that could not be fetched, a poster
    an earlier run finished). `planned`: every row the feed will account for, in manifest order."""

    def __init__(self, rows: Iterable[SkuRow] = (), planned: Iterable[SkuRow] | None = None, open: bool = False):
        self._cond = threading.Condition()
        self._rows: deque[SkuRow] = deque(rows)
        self._results: deque[ItemResult] = deque()
        self._open = open
        self._error: BaseException | None = None
        self._arrival: Future[None] | None = None
        self._on_cancel: list[Callable[[], None]] = []
        self.planned: tuple[SkuRow, ...] = tuple(self._rows if planned is None else planned)
        # consumer side: rows an earlier run finished are answered from their sidecars, not dispatched
        self.screen: Screen | None = None

    @classmethod
    def of(cls, rows: Feed | Iterable[SkuRow]) -> Feed:
        return rows if isinstance(rows, Feed) else cls(rows)

    # -- producer (any thread) -------------------------------------------------------------------------------

    def put(self, *rows: SkuRow) -> None:
        with self._cond:
            self._rows.extend(rows)
            self._signal()

    def put_result(self, *results: ItemResult) -> None:
        with self._cond:
            self._results.extend(results)
            self._signal()

    def close(self, error: BaseException | None = None) -> None:
        """Nothing more comes; with `error` (a full disk under the downloads), the consumer raises it."""
        with self._cond:
            self._open = False
            self._error = self._error or error
            self._signal()

    def on_cancel(self, fn: Callable[[], None]) -> None:
        self._on_cancel.append(fn)

    def _signal(self) -> None:
        self._cond.notify_all()
        if self._arrival is not None:
            arrival, self._arrival = self._arrival, None
            arrival.set_result(None)

    # -- consumer (the main thread) --------------------------------------------------------------------------

    def take(self) -> list[SkuRow]:
        """The rows that have arrived (and passed `screen`), without waiting."""
        with self._cond:
            if self._error is not None:
                raise self._error
            rows = list(self._rows)
            self._rows.clear()
        if self.screen is None:
            return rows
        keep = []
        for row in rows:
            done = self.screen(row)
            if done is None:
                keep.append(row)
            else:
                self.put_result(*done)
        return keep

    def give_back(self, rows: Iterable[SkuRow]) -> None:
        """Rows taken but not dispatched (a pool that broke): first in line again, not screened again."""
        with self._cond:
            self._rows.extendleft(reversed(list(rows)))

    def results(self) -> list[ItemResult]:
        with self._cond:
            out = list(self._results)
            self._results.clear()
            return out

    def pending(self) -> bool:
        """Rows have arrived and are waiting to be taken."""
        with self._cond:
            return bool(self._rows)

    @property
    def ended(self) -> bool:
        """Closed, and every row taken."""
        with self._cond:
            return not self._open and not self._rows and self._error is None

    def wait(self, timeout: float | None = None) -> None:
        """Until a row arrives or the feed closes, at most `timeout` seconds (an arriving result may wake it)."""
        with self._cond:
            if self._open and not self._rows and self._error is None:
                self._cond.wait(timeout)

    def arrival(self) -> Future[None] | None:
        """A future that completes when something arrives or the feed closes (already complete when rows are
        waiting), for `concurrent.futures.wait` beside the workers' futures; None once nothing more can come."""
        with self._cond:
            if not self._open and not self._rows and self._error is None:
                return None
            if self._rows or not self._open or self._error is not None:
                done: Future[None] = Future()
                done.set_result(None)
                return done
            if self._arrival is None:
                self._arrival = Future()
            return self._arrival

    def __iter__(self) -> Iterator[SkuRow]:
        """Every row, waiting for each to arrive."""
        while True:
            yield from self.take()
            if self.ended:
                return
            self.wait()

    def cancel(self) -> None:
        """The consumer stops (Ctrl-C, a full disk, the run is closed): downloads not started are dropped."""
        with self._cond:
            self._open = False
            self._rows.clear()
            self._signal()
        for fn in self._on_cancel:
            fn()
