"""The offline table of published architectures and exact parameter counts on the meta device."""

from __future__ import annotations

import json

import pytest

from helpers import models

#: Totals as the publishers report them (hub safetensors metadata / model cards), typed here
#: independently of the table so a wrong config value or a wrong tie flag fails the test.
PUBLISHED = {
    "Qwen/Qwen2.5-7B-Instruct": 7_615_616_512,
    "meta-llama/Llama-2-7b-hf": 6_738_415_616,
    "meta-llama/Llama-3.1-8B-Instruct": 8_030_261_248,
    "Qwen/Qwen2.5-0.5B-Instruct": 494_032_768,  # tied embeddings
    "HuggingFaceTB/SmolLM2-135M-Instruct": 134_515_008,  # tied embeddings
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": 1_777_088_000,  # same body as Qwen2.5-1.5B, untied
    "Qwen/Qwen3-0.6B": 596_049_920,  # qk-norm, head_dim 128 != hidden/heads
    "meta-llama/Llama-2-70b-hf": 68_976_648_192,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_count_equals_published_total(name: str) -> None:
    assert models.count_parameters(name) == PUBLISHED[name]


def test_every_table_entry_matches_its_published_count() -> None:
    wrong = {
        k: (models.count_parameters(k), v["published_params"])
        for k, v in models.ARCHITECTURES.items()
        if models.count_parameters(k) != v["published_params"]
    }
    assert not wrong, f"count != published: {wrong}"
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
    assert row["params"] == row["published"] == 134_515_008
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
