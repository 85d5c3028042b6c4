"""The optional outbound webhook to a street's duty phone system: one JSON POST per raised or
escalated alert, sent after the alert is committed, on a background thread (a slow or failing
receiver never holds up the listener). Failures are counted and logged without the payload."""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from typing import Any

log = logging.getLogger("assist.meters")


class Webhook:
    """Posts events to ``url`` (None: off) in order, from one background thread."""

    def __init__(self, url: str | None, *, timeout: float = 5.0) -> None:
        self.url, self.timeout = url, timeout
        self.sent = self.failed = 0
        self._queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def send(self, events: list[dict[str, Any]]) -> None:
        """Queue events for sending (nothing when off)."""
        if self.url is None or not events:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="alert-webhook", daemon=True)
            self._thread.start()
        for e in events:
            self._queue.put(e)

    def _post(self, event: dict[str, Any]) -> None:
        """One POST (the standard library's client: the URL is declared, http or https)."""
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked by the rules
            self.url, data=json.dumps(event).encode("utf-8"), method="POST",
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout):  # noqa: S310
            pass

    def _run(self) -> None:
        while (event := self._queue.get()) is not None:
            try:
                self._post(event)
                self.sent += 1
            except (urllib.error.URLError, OSError, ValueError) as exc:
                self.failed += 1
                log.warning("alert webhook failed: %s", type(exc).__name__)

    def close(self, timeout: float = 10.0) -> None:
        """Send what is queued, then stop."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=timeout)
            self._thread = None
