"""A small time-bounded cache held by the app (``app.state.page_cache``, never a module global)
for what is slow to read: the model registry (MLflow) and report files.

Entries expire ``ttl`` seconds after they were stored (a :class:`cachetools.TTLCache`, at most
``maxsize`` entries, least recently used dropped first); a file-backed entry is also dropped as
soon as the file's modification time changes, so a re-run report shows at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from cachetools import TTLCache
from fastapi import Request

T = TypeVar("T")
TTL_SECONDS = 60.0
#: most values held at once (registry views, report files, comparisons per language)
MAX_ENTRIES = 256


class PageCache:
    """Values by key, each kept for ``ttl`` seconds (thread-safe; pages run in a thread pool)."""

    def __init__(self, ttl: float = TTL_SECONDS, *, maxsize: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self._values: TTLCache[Hashable, tuple[Any, Any]] = TTLCache(maxsize, ttl)
        self._lock = threading.Lock()  # a TTLCache is not thread-safe, even to read

    def get(self, key: Hashable, load: Callable[[], T], *, stamp: Any = None) -> T:
        """The cached value of ``key``, or ``load()`` when missing, expired or ``stamp`` changed."""
        with self._lock:
            hit = self._values.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        value = load()  # outside the lock: other pages are not held up by a slow read
        with self._lock:
            self._values[key] = (stamp, value)
        return value

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._values.clear()


def file_stamp(path: Path) -> tuple[int, int] | None:
    """Modification time and size of ``path`` (None when it does not exist)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def page_cache(request: Request) -> PageCache:
    """The app's page cache."""
    return request.app.state.page_cache
