"""Each thread's own instance of something (an HTTP connection; a gRPC channel and its
stream), closed when its thread has ended or when the owner closes them all."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["PerThread"]

T = TypeVar("T")


class PerThread(Generic[T]):
    """Each thread's own T, made by make() on first use (any thread). A thread's T is
    closed when a new thread asks after it ended, or by close()."""

    def __init__(self, make: Callable[[], T], close: Callable[[T], None]) -> None:
        self._make = make
        self._close = close
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[tuple[threading.Thread, T]] = []

    def get(self) -> T:
        """This thread's T."""
        mine = getattr(self._local, "item", None)
        if mine is not None:
            return mine  # type: ignore[no-any-return]
        mine = self._local.item = self._make()
        with self._lock:
            ended = [item for thread, item in self._open if not thread.is_alive()]
            self._open = [(t, item) for t, item in self._open if t.is_alive()]
            self._open.append((threading.current_thread(), mine))
        for item in ended:
            self._close(item)
        return mine

    def close(self) -> None:
        """Closes every thread's T."""
        with self._lock:
            items, self._open = [item for _, item in self._open], []
        for item in items:
            self._close(item)
