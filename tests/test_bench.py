"""Tests for benchmarks/bench.py's kernel-cache lever: each side trains in its own process with its own cap."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench  # noqa: E402

import helpers  # noqa: E402
from helpers import env  # noqa: E402


def test_kernel_cache_trains_each_side_under_its_own_cap(tmp_path: Path, tiny_qwen2_dir: str) -> None:
    """The variables are read once per process, so the comparison is only real if each child saw its own value
    (the course's cap set by importing helpers must not leak into the uncapped side)."""
    kc = bench.kernel_cache(tiny_qwen2_dir, str(env.DATA_DIR / "extraction"), 4, 256, tmp_path)
    cap = helpers.KERNEL_CACHE_CAPACITY
    assert kc["default_1024"]["capacity_seen"] == ["1024", "1024"]
    assert kc["capped"]["capacity_seen"] == [cap, cap] and kc["capped"]["capacity"] == int(cap)
    for side in ("default_1024", "capped"):
        assert kc[side]["seconds"] > 0 and kc[side]["peak_rss_mb"] > 0
    assert kc["rss_saved_mb"] == round(kc["default_1024"]["peak_rss_mb"] - kc["capped"]["peak_rss_mb"], 1)
