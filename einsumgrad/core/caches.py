"""The one cache type: a bounded, thread-safe LRU mapping. Every cache made registers
itself, so :func:`clear_all` forgets everything without a list. Imports nothing of the package.

>>> @cache(maxsize=2)
... def square(n):
...     return n * n
>>> square(3), square.cache.get((3,))
(9, 9)
>>> clear_all(); len(square.cache)
0
"""
from __future__ import annotations

import functools
import threading
import weakref
from collections import OrderedDict
from typing import Callable

_REGISTRY: weakref.WeakSet = weakref.WeakSet()
_MISSING = object()


class LRU:
    """A mapping of at most ``maxsize`` entries (an int, or a function read at every insert)
    that forgets the least recently used; each lookup or insert holds the lock throughout."""

    __slots__ = ("_data", "_lock", "_bound", "__weakref__")

    def __init__(self, maxsize: int | Callable[[], int]):
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._bound = maxsize if callable(maxsize) else (lambda: maxsize)
        _REGISTRY.add(self)

    def get(self, key, default=None):
        self._lock.acquire()  # not ``with``: this is every cached call's path, and ``with`` costs twice as much
        try:
            value = self._data.get(key, _MISSING)
            if value is _MISSING:
                return default
            self._data.move_to_end(key)
            return value
        finally:
            self._lock.release()

    def insert(self, key, value):
        """Store ``value`` unless ``key`` is already there; returns the stored one, so that
        threads racing to fill one key all get the same object."""
        with self._lock:
            value = self._data.setdefault(key, value)
            self._data.move_to_end(key)
            bound = self._bound()
            while len(self._data) > bound:
                self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


def cache(maxsize: int, key: Callable | None = None) -> Callable:
    """Memoize a function of hashable positional arguments (or of ``key(*args)``) in an :class:`LRU`,
    reachable as ``fn.cache``. The function runs outside the lock, so it may recurse."""

    def decorate(fn: Callable) -> Callable:
        store = LRU(maxsize)

        @functools.wraps(fn)
        def cached(*args):
            k = args if key is None else key(*args)
            value = store.get(k, _MISSING)
            return store.insert(k, fn(*args)) if value is _MISSING else value

        cached.cache = store  # type: ignore[attr-defined]
        return cached

    return decorate


def clear_all() -> None:
    """Empty every cache made so far."""
    for store in list(_REGISTRY):
        store.clear()
