"""The offline table of published architectures and exact parameter counts on the meta device."""

from __future__ import annotations

import json

import pytest

from helpers import models


@pytest.mark.parametrize("name", sorted(models.ARCHITECTURES))
def test_count_equals_published_total(name: str) -> None:
    """The table's one copy of each published total (hub safetensors metadata / model cards) is typed apart from
    its config, so a wrong config value or tie flag (Qwen2.5-0.5B and SmolLM2 tie, DeepSeek-R1-Distill-1.5B does
    not; Qwen3 sets head_dim apart from hidden / heads) fails here."""
    assert models.count_parameters(name) == models.ARCHITECTURES[name]["published_params"]


def test_the_table_covers_the_families() -> None:
    assert len(models.ARCHITECTURES) >= 15


def test_tying_matters() -> None:
    """Untying the 0.5B's embeddings adds exactly vocab x hidden parameters."""
    config = models.architecture("Qwen/Qwen2.5-0.5B-Instruct")
    tied = models.count_parameters(config)
    config.tie_word_embeddings = False
    assert models.count_parameters(config) - tied == config.vocab_size * config.hidden_size


def test_architecture_is_a_real_config() -> None:
    config = models.architecture("qwen/qwen2.5-7b-instruct")  # case-insensitive
    assert type(config).__name__ == "Qwen2Config"
    assert (config.num_key_value_heads, config.vocab_size, config.tie_word_embeddings) == (4, 152064, False)
    llama31 = models.architecture("meta-llama/Llama-3.1-8B-Instruct")
    assert llama31.max_position_embeddings == 131072
    assert models.architecture(models.DEFAULT_MODEL).hidden_size == 576


def test_unknown_name_says_how_to_fix() -> None:
    with pytest.raises(KeyError, match="Known \\(offline\\)"):
        models.architecture("Qwen/Qwen9-1T")


def test_summary_and_families() -> None:
    row = models.architecture_summary("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert row["params"] == row["published"] == models.count_parameters(models.EMBEDDED_HUB_ID)
    assert row["tied"] and row["embedding_params"] == 49152 * 576
    for name in models.ARCHITECTURES:
        assert models.family_of(name) in models.FAMILIES
    for facts in models.FAMILIES.values():
        assert {"licence", "languages", "chinese", "variants", "sizes", "context"} <= set(facts)


@pytest.mark.slow
def test_table_agrees_with_the_embedded_models_own_config() -> None:
    real = json.loads((models.embedded_model_path(verbose=False) / "config.json").read_text())
    ours = models.ARCHITECTURES[models.EMBEDDED_HUB_ID]["config"]
    for key in [
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "vocab_size",
        "tie_word_embeddings",
    ]:
        assert real[key] == ours[key], key
