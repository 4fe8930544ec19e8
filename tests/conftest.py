"""Shared test fixtures: tiny random models saved as model folders (a local folder is a valid model name)."""

from __future__ import annotations

from pathlib import Path

import pytest

#: The longest tests, in about that order, started first so that two xdist workers finish together.
LONGEST_FIRST = (
    "test_notebook_smoke[04",
    "test_ui.py",  # 00, 02 and 05 in JupyterLab (IN_BROWSER of tests/smoke.py), on one worker
    "test_notebook_smoke[07",
    "test_notebook_smoke[06",
    "test_models.py",
    "test_notebook_smoke",
)


def pytest_configure(config: pytest.Config) -> None:
    """With xdist workers (make test), convert the embedded GGUF once before they start: they share the cache."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        from helpers import models

        models.embedded_model_path()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the long tests first (longest-processing-time order); the rest keep their order."""

    def rank(item: pytest.Item) -> int:
        return next((i for i, key in enumerate(LONGEST_FIRST) if key in item.nodeid), len(LONGEST_FIRST))

    items.sort(key=rank)


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
