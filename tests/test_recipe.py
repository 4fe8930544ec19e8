"""Tests for benchmarks/recipe.py: a recipe lever trained, then scored as notebook 05 scores the tuned model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import recipe  # noqa: E402


@pytest.mark.slow  # trains, loads the embedded model or starts a server: make test, not test-fast
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
        f"model={tiny_qwen2_dir} training.max_steps=3 training.per_device_train_batch_size=2 "
        "training.gradient_accumulation_steps=2 max_train_examples=16 training.eval_strategy=no "
        f"training.learning_rate=5e-2 training.disable_tqdm=true training.bf16=false training.output_dir={tmp_path}/ckpt "
        f"lora.use_rslora=true --n_examples 4 --out {tmp_path}"
    ).split()
    result = recipe.main(argv)
    assert (result["global_step"], result["examples_seen"], result["n_examples"]) == (3, 12, 4)
    # recipes are chosen on validation; the test split is scored once, after the decisions (05 section 1)
    assert result["split"] == "validation"
    assert "lora.use_rslora=true" in result["overrides"] and 0 <= result["exact_match"] <= 1
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
