"""Benchmark helper: run one stage in a forked child and report wall time and its peak RSS."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Measurement:
    """Wall time (s), peak resident memory of the stage's process (MiB) and what it returned."""

    stage: str
    seconds: float
    peak_mib: float
    result: dict[str, Any]

    def line(self, rows: int | None = None, unit: str = "rows") -> str:
        """One printable line, with throughput when ``rows`` is given."""
        rate = f"  {rows / self.seconds:>12,.0f} {unit}/s" if rows else ""
        return f"{self.stage:<34} {self.seconds:>9.2f} s  {self.peak_mib:>9,.0f} MiB peak{rate}"


def measure(stage: str, fn: Callable[[], dict[str, Any] | None]) -> Measurement:
    """Run ``fn`` in a forked child; its peak RSS is the stage's own (read with ``os.wait4``)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        code = 0
        try:
            t0 = time.perf_counter()
            result = fn() or {}
            payload = {"seconds": time.perf_counter() - t0, "result": result}
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            payload = {"error": f"{type(exc).__name__}: {exc}"}
            code = 1
        with os.fdopen(write_end, "w") as f:
            json.dump(payload, f, default=str)
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        data = f.read()
    _, status, usage = os.wait4(pid, 0)
    payload = json.loads(data) if data else {"error": f"child exited with status {status}"}
    if "error" in payload:
        raise RuntimeError(f"stage {stage} failed: {payload['error']}")
    return Measurement(stage, payload["seconds"], usage.ru_maxrss / 1024, payload["result"])
