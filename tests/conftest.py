"""Shared test fixtures: tiny random models saved as model folders (a local folder is a valid model name)."""

from __future__ import annotations

from pathlib import Path

import pytest


def save_tiny_model(arch: str, folder: Path, *, seed: int = 0) -> str:
    """Save :func:`helpers.models.tiny_model` ``(arch, seed)`` and its tokenizer into ``folder``; return its path."""
    from helpers.models import tiny_model

    model, tokenizer = tiny_model(arch, seed=seed)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_qwen2_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny random Qwen2 (seed 0) with its ChatML tokenizer, as a folder ``from_pretrained`` loads."""
    return save_tiny_model("qwen2", tmp_path_factory.mktemp("tiny-qwen2"))


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny random Llama (seed 0) with its Llama-3 tokenizer, as a folder ``from_pretrained`` loads."""
    return save_tiny_model("llama", tmp_path_factory.mktemp("tiny-llama"))
