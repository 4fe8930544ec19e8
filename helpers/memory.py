"""The course's one measuring harness: this process's resident memory (RSS) and its peak, on Linux, macOS and
Windows (psutil; no torch import), and a fresh Python process to measure in (:func:`run_fresh_process`)."""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path

import psutil

_STATUS = Path("/proc/self/status")  # Linux: the kernel's own peak counter (VmHWM), which clear_refs resets


class _Sampler(threading.Thread):
    """Reads the RSS every ``interval`` seconds and keeps the largest: the peak where the kernel keeps none for us."""

    def __init__(self, interval: float = 0.005) -> None:
        super().__init__(name="lora-lab-peak-rss", daemon=True)
        self.interval, self.peak = interval, rss_mb()
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.peak = max(self.peak, rss_mb())

    def stop(self) -> float:
        self._done.set()
        return self.peak


_sampler: _Sampler | None = None


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    return psutil.Process().memory_info().rss / 2**20  # Process() each time: right after a fork too


def _status_mb(field: str) -> float | None:
    """A ``kB`` field of Linux's ``/proc/self/status`` (``VmHWM``) in MB; None where there is none (macOS, Windows)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def release_freed_memory() -> bool:
    """Hand the C allocator's cached free blocks back to the OS (glibc ``malloc_trim(0)``).

    glibc keeps the blocks that freed tensors leave behind inside the process, so they still count in its RSS: after
    notebook 04's full-logit probe that is more than a gigabyte nothing uses. Returns ``True`` where glibc trimmed.
    """
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to hand back this way
        return False


def reset_peak_rss() -> None:
    """Start measuring the peak from the current RSS; :func:`peak_rss_mb` then reads it.

    First hands freed memory back to the OS (:func:`release_freed_memory`), so the peak that follows measures what
    the next step needs, not what earlier cells freed and the allocator kept. On Linux the kernel's counter is
    reset (``/proc/self/clear_refs``): exact. Elsewhere a background thread samples the RSS every 5 ms: a peak
    shorter than that can be missed.
    """
    global _sampler
    release_freed_memory()
    if _sampler is not None:
        _sampler.stop()
        _sampler = None
    try:
        Path("/proc/self/clear_refs").write_text("5")
        if _status_mb("VmHWM") is not None:
            return
    except OSError:
        pass
    _sampler = _Sampler()
    _sampler.start()


def peak_rss_mb() -> float:
    """Peak resident memory in MB since :func:`reset_peak_rss` (before any reset: since the process started where
    the OS keeps that figure, Linux and Windows; else the RSS now)."""
    if _sampler is not None:
        return max(_sampler.peak, rss_mb())
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    info = psutil.Process().memory_info()
    return max(getattr(info, "peak_wset", 0), info.rss) / 2**20  # Windows keeps the peak working set


def run_fresh_process(
    code: str, args: list[str], *, what: str, return_freed_memory: bool = False, timeout: float | None = None
) -> dict:
    """Run ``python -c code *args`` in a FRESH process from the repo root; return the JSON of its last stdout line.

    A fresh process inherits no memory another measurement freed, so its peak is its own. ``return_freed_memory``
    pins glibc's mmap and trim thresholds, so freed blocks leave the resident set at once (Linux; no effect
    elsewhere). Raises ``RuntimeError`` naming ``what`` with the tail of the child's stderr when it fails.
    """
    import json
    import os
    import subprocess
    import sys

    from helpers.env import CHECKOUT, ROOT

    child_env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    if CHECKOUT:  # the child imports helpers from the same place as this process
        child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    if return_freed_memory:  # glibc: big blocks come from mmap and go back to the system when freed
        child_env.update({"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"})
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=child_env,
        cwd=str(ROOT if CHECKOUT else Path.cwd()),
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"The {what} subprocess failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
