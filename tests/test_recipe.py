"""Tests for benchmarks/recipe.py: a recipe lever trained, then scored as notebook 05 scores the tuned model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from helpers import finetune as ft

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import recipe  # noqa: E402


def test_lora_overrides_reach_the_config_and_a_typo_names_the_fix() -> None:
    cfg = ft.FinetuneConfig()
    assert ft.lora_config(cfg, use_rslora=True, init_lora_weights="pissa").use_rslora is True
    assert ft.lora_config(cfg).use_rslora is False  # no override: peft's default
    with pytest.raises(ValueError, match=r"Not LoraConfig fields: \['use_rslorra'\](.|\n)*Fix: use one of"):
        ft.lora_config(cfg, use_rslorra=True)


def test_recipe_scores_the_trained_model_and_appends_one_line(
    tmp_path: Path, tiny_qwen2_dir: str, monkeypatch
) -> None:
    """The model scored is the one just trained (its merged weights equal the saved adapter merged onto the base),
    the LoRA override reached peft, and the run is one JSON line in results.jsonl."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    scored = {}
    real_score = recipe.score

    def spy(model, tokenizer, data_dir, split, n, batch_size=32):
        scored["state"] = {k: v.clone() for k, v in model.state_dict().items()}
        return real_score(model, tokenizer, data_dir, split, n, batch_size)

    monkeypatch.setattr(recipe, "score", spy)
    argv = (
        f"--model {tiny_qwen2_dir} --max_steps 3 --per_device_train_batch_size 2 --gradient_accumulation_steps 2 "
        "--max_train_examples 16 --eval_steps 0 --learning_rate 5e-2 --disable_tqdm true --bf16 false "
        f"--lora use_rslora=true --n_examples 4 --out {tmp_path}"
    ).split()
    result = recipe.main(argv)
    assert (result["global_step"], result["examples_seen"], result["n_examples"]) == (3, 12, 4)
    # recipes are chosen on validation; the test split is scored once, after the decisions (05 section 1)
    assert result["split"] == "validation"
    assert result["lora"] == {"use_rslora": True} and 0 <= result["exact_match"] <= 1
    low, high = result["exact_match_95ci"]
    assert low <= result["exact_match"] <= high and high - low > 0.3  # 4 examples: a wide interval
    assert set(result["by_lang"]) <= {"en", "zh"} and result["train_seconds"] > 0
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0]) == result
    adapter = tmp_path / "adapter"
    assert json.loads((adapter / "adapter_config.json").read_text())["use_rslora"] is True
    base = AutoModelForCausalLM.from_pretrained(tiny_qwen2_dir, dtype=torch.float32)
    untouched = {k: v.clone() for k, v in base.state_dict().items()}
    reloaded = PeftModel.from_pretrained(base, adapter).merge_and_unload().state_dict()
    assert scored["state"].keys() == reloaded.keys()
    for k, v in reloaded.items():
        torch.testing.assert_close(scored["state"][k], v)
    assert any(not torch.equal(scored["state"][k], untouched[k]) for k in untouched)  # trained, not the base
    recipe.main(argv + ["--name", "again"])
    assert [json.loads(x)["name"] for x in (tmp_path / "results.jsonl").read_text().splitlines()][
        1
    ] == "again"
