"""examples/train_lora.py, the recipe to copy: its label mask agrees with the course's, its scoring with
helpers.evaluate, and it trains and scores end to end (a tiny model here; notebook 04 runs it on the embedded one)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from helpers import data as D
from helpers import evaluate
from helpers.env import ROOT

SCRIPT = ROOT / "examples" / "train_lora.py"


def _script():
    spec = importlib.util.spec_from_file_location("train_lora", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("fixture", ["tiny_qwen2_dir", "tiny_llama_dir"])
def test_its_label_mask_is_the_courses(fixture: str, request: pytest.FixtureRequest) -> None:
    """Same tokens, same labels as helpers.data.tokenize_chat (notebook 01's mask), under ChatML and Llama 3."""
    tokenizer = AutoTokenizer.from_pretrained(request.getfixturevalue(fixture))
    records = D.load_records(ROOT / "data" / "extraction" / "validation.jsonl")[:20]
    script = _script()
    for record in records:
        ours = script.tokenize(record["messages"], tokenizer, max_length=512)
        course = D.tokenize_chat(record["messages"], tokenizer)
        assert ours is not None
        assert ours["input_ids"] == list(course["input_ids"]) and ours["labels"] == list(course["labels"])
    assert script.tokenize(records[0]["messages"], tokenizer, max_length=8) is None  # too long: dropped


def test_its_exact_match_rule_is_the_courses() -> None:
    script = _script()
    gold = '{"customer": "Tom Baker", "product": "yoga mat", "quantity": 3, "city": null}'
    for answer in [
        gold,
        '```json\n{"customer": "tom  baker", "product": "yoga mat", "quantity": 3, "city": null}\n```',
        '{"customer": "Tom Baker", "product": "yoga mats", "quantity": 3, "city": null}',
        '{"customer": "Tom Baker", "product": "yoga mat", "quantity": "3", "city": null}',
        '{"customer": "Tom Baker", "product": "yoga mat", "quantity": 3}',
        "not json",
    ]:
        got, want = script.parse(answer), script.parse(gold)
        ours = (
            got is not None and got.keys() == want.keys() and all(script.same(got[k], want[k]) for k in want)
        )
        assert ours == evaluate.compare_one(answer, gold)["exact"], answer


@pytest.mark.slow
def test_it_trains_saves_and_scores(tiny_qwen2_dir: str, tmp_path: Path) -> None:
    out = tmp_path / "adapter"
    result = _script().main(
        ["--model", tiny_qwen2_dir, "--out", str(out), "--limit", "6", "--set", "training.max_steps=3",
         "max_train_examples=16", "max_eval_examples=4", "training.eval_strategy=no", "training.logging_steps=1"]
    )  # fmt: skip
    assert (out / "adapter_model.safetensors").is_file()
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 16  # the course recipe's rank
    assert result["split"] == "test" and result["n"] == 6 and 0.0 <= result["exact_match"] <= 1.0
    assert result["final_val_loss"] > 0
