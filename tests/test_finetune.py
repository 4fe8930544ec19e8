"""Tests for helpers.finetune: ensure_adapter rebuilds, the fresh-process and peak-RSS plumbing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import finetune as ft


@pytest.mark.slow  # trains, loads the embedded model or starts a server: make test, not test-fast
def test_ensure_adapter_rebuilds_missing_or_incomplete(tmp_path: Path, capsys, tiny_qwen2_dir: str) -> None:
    path = tmp_path / "adapter"
    assert not ft.adapter_is_complete(path)
    out = ft.ensure_adapter(path, model=tiny_qwen2_dir)
    assert out == path and ft.adapter_is_complete(path)
    assert "missing: rebuilding" in capsys.readouterr().out
    stamp = (path / "adapter_model.safetensors").stat().st_mtime_ns

    ft.ensure_adapter(path, model=tiny_qwen2_dir)  # complete: untouched
    assert "rebuilding" not in capsys.readouterr().out
    assert (path / "adapter_model.safetensors").stat().st_mtime_ns == stamp

    (path / "adapter_model.safetensors").write_bytes(b"truncated")  # a broken download / killed save
    assert not ft.adapter_is_complete(path)
    ft.ensure_adapter(path, model=tiny_qwen2_dir)
    assert "incomplete: rebuilding" in capsys.readouterr().out
    assert ft.adapter_is_complete(path)


def test_importing_helpers_caps_the_cpu_kernel_caches() -> None:
    """bf16 training on a CPU kept a compiled kernel per batch shape (helpers/__init__.py): importing helpers caps both
    caches in a process that had neither variable; a value the user set stays."""
    import helpers
    from helpers.memory import run_fresh_process

    names = helpers.KERNEL_CACHE_VARIABLES
    code = (  # a fresh process without the variables the test runner's own import of helpers set, plus extra ones
        "import json, os, sys; names = sys.argv[1].split(','); [os.environ.pop(n, None) for n in names]; "
        "os.environ.update(json.loads(sys.argv[2])); import helpers; print(json.dumps([os.environ.get(n) for n in names]))"
    )

    def child(extra: dict[str, str]) -> list[str | None]:
        return run_fresh_process(code, [",".join(names), json.dumps(extra)], what="import helpers")

    assert names == ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "LRU_CACHE_CAPACITY")
    assert child({}) == [helpers.KERNEL_CACHE_CAPACITY] * 2 == ["64", "64"]
    assert child({"LRU_CACHE_CAPACITY": "8"}) == ["64", "8"]


def test_run_fresh_process_returns_the_last_json_line_and_names_a_failure() -> None:
    from helpers.memory import run_fresh_process

    code = (
        "import json, os, sys; print('noise'); "
        "print(json.dumps({'args': sys.argv[1:], 'mmap': os.environ.get('MALLOC_MMAP_THRESHOLD_')}))"
    )
    assert run_fresh_process(code, ["a", "b"], what="probe") == {"args": ["a", "b"], "mmap": None}
    assert run_fresh_process(code, [], what="probe", return_freed_memory=True)["mmap"] == "131072"
    with pytest.raises(RuntimeError, match=r"The probe subprocess failed \(exit 3\):\n.*boom"):
        run_fresh_process("import sys; sys.stderr.write('boom'); sys.exit(3)", [], what="probe")


@pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="peak RSS is reset through Linux /proc"
)
def test_reset_peak_rss_hands_freed_blocks_back_before_measuring() -> None:
    """Blocks freed before the reset but kept by the allocator must not count in the peak that follows (04's probe)."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 (glibc only)
    except (OSError, AttributeError):
        pytest.skip("not glibc: no malloc_trim")
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    size, count = 64 * 1024, 4096  # 256 MB in blocks below glibc's mmap threshold: they live on the heap
    blocks = [libc.malloc(size) for _ in range(count)]
    for block in blocks:
        ctypes.memset(block, 1, size)  # touched: resident
    pin = libc.malloc(size)  # above them, so free() cannot shrink the heap from its top by itself
    try:
        for block in blocks:
            libc.free(block)
        cached = ft.rss_mb()
        ft.reset_peak_rss()
        assert ft.peak_rss_mb() < cached - 200, (cached, ft.peak_rss_mb())  # the 256 MB went back to the OS
    finally:
        libc.free(pin)
