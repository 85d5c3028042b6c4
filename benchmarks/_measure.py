"""Benchmark helper: run one stage in a forked child and report wall time and its peak RSS."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Measurement:
    """Wall time (s), peak resident memory of the stage's process (MiB) and what it returned."""

    stage: str
    seconds: float
    peak_mib: float
    result: dict[str, Any]
    worker_mib: float = 0.0

    def line(self, rows: int | None = None, unit: str = "rows") -> str:
        """One printable line, with throughput when ``rows`` is given."""
        rate = f"  {rows / self.seconds:>12,.0f} {unit}/s" if rows else ""
        return f"{self.stage:<34} {self.seconds:>9.2f} s  {self.peak_mib:>9,.0f} MiB peak{rate}"


def _tree_rss(root: int) -> tuple[int, int]:
    """Resident bytes of ``root`` and all its descendants (from /proc), and of the largest
    Python process below ``root`` (for Spark: a Python worker running one bucket)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    name: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                head, tail = f.read().rsplit(")", 1)
        except OSError:
            continue
        fields = tail.split()
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * PAGE
        name[pid] = head.split("(", 1)[1]
    total, worker, todo = 0, 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        if pid != root and name.get(pid, "").startswith("python"):
            worker = max(worker, rss.get(pid, 0))
        todo.extend(children.get(pid, []))
    return total, worker


def measure(stage: str, fn: Callable[[], dict[str, Any] | None], *,
            tree: bool = False) -> Measurement:
    """Run ``fn`` in a forked child; its peak RSS is the stage's own (read with ``os.wait4``).

    With ``tree``, the peak is the sum over the child's whole process tree (a JVM and its Python
    workers, say), sampled from /proc every 0.2 s; ``worker_mib`` is the largest Python
    descendant's peak.
    """
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
    peak, done = [0, 0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            total, worker = _tree_rss(pid)
            peak[0], peak[1] = max(peak[0], total), max(peak[1], worker)
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True) if tree else None
    if sampler is not None:
        sampler.start()
    with os.fdopen(read_end) as f:
        data = f.read()
    _, status, usage = os.wait4(pid, 0)
    done.set()
    if sampler is not None:
        sampler.join()
    payload = json.loads(data) if data else {"error": f"child exited with status {status}"}
    if "error" in payload:
        raise RuntimeError(f"stage {stage} failed: {payload['error']}")
    own = usage.ru_maxrss / 1024  # the child itself (a stage shorter than one sample)
    peak_mib = max(peak[0] / 2**20, own) if tree else own
    return Measurement(stage, payload["seconds"], peak_mib, payload["result"],
                       worker_mib=peak[1] / 2**20)
