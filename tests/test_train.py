"""Tests for helpers.train, the course's training script: the recipe YAML in, an adapter out; resume; cleaning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from transformers import TrainerCallback

from helpers import env
from helpers import train as tr
from helpers.adapters import adapter_is_complete


def tiny_recipe(tmp_path: Path, name: str, model: str, **overrides) -> dict:
    """The course recipe on a tiny model: 6 steps of 4 examples, a checkpoint every 3."""
    return tr.load_recipe(
        tr.RECIPE,
        {
            "model": model,
            "adapter_dir": str(tmp_path / name),
            "max_train_examples": 32,
            "max_eval_examples": 8,
            "lora.lora_dropout": 0.1,  # dropout makes the resume test sensitive to the restored RNG state
            "training.output_dir": str(tmp_path / f"{name}-checkpoints"),
            "training.max_steps": 6,
            "training.per_device_train_batch_size": 4,
            "training.gradient_accumulation_steps": 1,
            "training.eval_strategy": "no",
            "training.logging_steps": 1,
            "training.save_strategy": "steps",
            "training.save_steps": 3,
            "training.learning_rate": 5e-3,
            "training.warmup_steps": 1,
            "training.disable_tqdm": True,
            **overrides,
        },
    )


class StopAt(TrainerCallback):
    """Simulate an interruption: stop training after ``step`` (the checkpoint at that step is saved)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        control.should_training_stop = state.global_step >= self.step


def weights(folder: str | Path) -> dict[str, torch.Tensor]:
    return load_file(str(Path(folder) / "adapter_model.safetensors"))


@pytest.mark.slow  # trains, loads the embedded model or starts a server: make test, not test-fast
def test_resume_matches_uninterrupted_run(tmp_path: Path, tiny_qwen2_dir: str) -> None:
    full = tr.train(tiny_recipe(tmp_path, "full", tiny_qwen2_dir), verbose=False)
    cut = tiny_recipe(tmp_path, "cut", tiny_qwen2_dir)
    assert tr.train(cut, callbacks=[StopAt(3)], verbose=False)["global_step"] == 3
    half = weights(tmp_path / "cut-checkpoints" / "checkpoint-3")
    resumed = tr.train(
        {**cut, "training": {**cut["training"], "resume_from_checkpoint": "last"}}, verbose=False
    )
    assert resumed["global_step"] == full["global_step"] == 6
    a, b = weights(full["adapter_dir"]), weights(resumed["adapter_dir"])
    assert a.keys() == b.keys() == half.keys()
    assert max((a[k] - half[k]).abs().max().item() for k in a) > 1e-4  # the cut state differs: not trivial
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=1e-5, rtol=1e-4, msg=key)

    def losses(m):
        return {h["step"]: h["loss"] for h in m["log_history"] if "loss" in h and h["step"] > 3}

    assert losses(resumed).keys() == losses(full).keys() == {4, 5, 6}
    for step, loss in losses(full).items():
        assert losses(resumed)[step] == pytest.approx(loss, abs=1e-4)
    # one history file beside the adapter, the Trainer's own, holding the whole (resumed) run
    saved = json.loads((Path(resumed["adapter_dir"]) / "trainer_state.json").read_text())
    assert saved["global_step"] == 6 and saved["log_history"] == resumed["log_history"]


def test_recipe_overrides_and_unknown_keys(tmp_path: Path) -> None:
    recipe = tr.load_recipe(
        tr.RECIPE, ["training.max_steps=7", "lora.r=4", "model=x", "lora.use_rslora=true"]
    )
    assert recipe["training"]["max_steps"] == 7 and recipe["lora"]["r"] == 4 and recipe["model"] == "x"
    assert recipe["lora"]["use_rslora"] is True  # YAML values: true, 4, 2e-3, null
    # the file itself is read, not a copy of it
    course = yaml.safe_load(env.course_path(tr.RECIPE).read_text(encoding="utf-8"))
    assert tr.load_recipe()["training"] == course["training"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: x\nmax_lenght: 3\nlora: {}\ntraining: {}\n")
    with pytest.raises(ValueError, match=r"bad.yaml: unknown keys \['max_lenght'\]"):
        tr.load_recipe(bad)
    with pytest.raises(ValueError, match="KEY=VALUE"):
        tr.load_recipe(tr.RECIPE, ["training.max_steps"])


def test_training_arguments_take_the_machine_precision_unless_the_recipe_sets_it(monkeypatch) -> None:
    recipe = tr.load_recipe()
    assert tr.training_arguments(recipe).train_sampling_strategy == "group_by_length"
    for fast in (True, False):  # bf16 exactly where it is fast, whichever machine runs the test
        monkeypatch.setattr(env, "bf16_supported", lambda *a, fast=fast, **k: fast)
        assert tr.training_arguments(recipe).bf16 is fast
        explicit = {**recipe, "training": {**recipe["training"], "bf16": not fast}}
        assert tr.training_arguments(explicit).bf16 is (not fast)  # the recipe wins


@pytest.mark.slow  # trains, loads the embedded model or starts a server: make test, not test-fast
def test_script_trains_from_the_command_line_and_drops_empty_answers(
    tmp_path: Path, tiny_qwen2_dir: str
) -> None:
    """What reaches the Trainer is what clean_records keeps: a whitespace-only answer passes load_records, so the
    training path itself must drop it, and say so."""
    from helpers import data

    src = data.load_splits("data/extraction")
    folder = tmp_path / "data"
    folder.mkdir()
    rows = [dict(r) for r in src["train"][:6]]
    blank = json.loads(json.dumps(rows[1]))
    blank["messages"][-1]["content"] = " \n\t "  # whitespace only: load_records accepts it
    rows = [rows[0], blank, rows[2], rows[2], *rows[3:]]  # plus a duplicate
    for name, part in (("train", rows), ("validation", src["validation"][:3]), ("test", src["test"][:3])):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part))
    assert len(data.load_records(folder / "train.jsonl")) == 7  # loading keeps it: cleaning must drop it
    out = tmp_path / "cli"
    metrics = tr.main([f"model={tiny_qwen2_dir}", f"data_dir={folder}", f"adapter_dir={out}", "training.max_steps=2",
                       "training.eval_strategy=no", f"training.output_dir={tmp_path / 'ckpt'}"])  # fmt: skip
    assert metrics["global_step"] == 2 and adapter_is_complete(out)
    report = metrics["cleaning"]["train"]
    assert {k: report[k] for k in ("total", "kept", "dropped")} == {
        "total": 7,
        "kept": 5,
        "dropped": {"empty": 1, "duplicate": 1, "over_length": 0},
    }
    assert metrics["n_train"] == 5


def test_a_recipe_whose_cleaning_keeps_no_example_names_the_fix(tmp_path: Path, tiny_qwen2_dir: str) -> None:
    """max_length below every record: cleaning drops them all, and the run stops before training, saying how."""
    recipe = tiny_recipe(tmp_path, "empty", tiny_qwen2_dir, max_length=8)
    with pytest.raises(
        ValueError, match=r"No training example is left after cleaning \(max_length=8\)(.|\n)*Fix"
    ):
        tr.train(recipe, verbose=False)
    assert not (tmp_path / "empty").exists()  # nothing half-written
