"""Tests for benchmarks/bench.py's kernel-cache lever: each side trains in its own process with its own cap."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench  # noqa: E402

import helpers  # noqa: E402
from helpers import env  # noqa: E402


@pytest.mark.slow  # trains, loads the embedded model or starts a server: make test, not test-fast
def test_kernel_cache_trains_each_side_under_its_own_cap(tmp_path: Path, tiny_qwen2_dir: str) -> None:
    """The variables are read once per process, so the comparison is only real if each child saw its own value
    (the course's cap set by importing helpers must not leak into the uncapped side)."""
    kc = bench.kernel_cache(tiny_qwen2_dir, str(env.DATA_DIR / "extraction"), 4, 256, tmp_path)
    cap = helpers.KERNEL_CACHE_CAPACITY
    assert kc["default_1024"]["capacity_seen"] == ["1024", "1024"]
    assert kc["capped"]["capacity_seen"] == [cap, cap] and kc["capped"]["capacity"] == int(cap)
    for side in ("default_1024", "capped"):
        assert kc[side]["peak_rss_mb"] > 0


def test_the_old_engine_still_gives_model_generate_answers() -> None:
    """benchmarks/generation.py times the old engine against model.generate; the comparison means something only
    while both decode the same tokens (prompts of different lengths, batches of 2 that rows leave and join)."""
    import engine

    from helpers import evaluate
    from tests.test_evaluate import PROMPTS, lively_tiny

    model, tok = lively_tiny("qwen2")
    prompts = PROMPTS + [[m | {"content": m["content"] + " 2"} for m in p] for p in PROMPTS]
    old = engine.generate(model, tok, prompts, max_new_tokens=12, batch_size=2, progress=False)
    assert old == evaluate.generate(model, tok, prompts, max_new_tokens=12, batch_size=2, progress=False)
    assert len(set(old)) == len(prompts)  # prompt-dependent answers: not vacuous
