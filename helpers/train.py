"""The course's training run as one short script: a recipe YAML in, a LoRA adapter out (notebook 04, sections 1-4).

    python -m helpers.train --config configs/train_cpu.yaml                          # notebook 04's default run
    python -m helpers.train --config configs/train_cpu.yaml training.max_steps=10 lora.r=8   # any key
    accelerate launch --config_file configs/accelerate/multi_gpu.yaml -m helpers.train --config configs/train_gpu.yaml

The YAML is the recipe, and the only place it lives: ``lora:`` is passed to ``peft.LoraConfig`` and ``training:`` to
``transformers.TrainingArguments`` as they are; the top-level keys say which model, data and lengths. Notebook 04
loads the same file and makes the same calls in plain sight.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import yaml

from helpers import env

RECIPE = "configs/train_cpu.yaml"
#: the top-level keys a recipe may have (besides ``lora`` and ``training``)
TOP = {"model", "data_dir", "adapter_dir", "max_length", "max_train_examples", "max_eval_examples",
       "only_learned_logits", "load_in_4bit", "attn_implementation"}  # fmt: skip


def load_recipe(path: str | Path = RECIPE, overrides: dict[str, Any] | list[str] = ()) -> dict[str, Any]:
    """Read a recipe YAML and apply ``overrides``: ``{"training.max_steps": 10}`` or ``["training.max_steps=10"]``."""
    file = env.course_path(path)
    recipe = yaml.safe_load(file.read_text(encoding="utf-8"))
    if isinstance(overrides, list | tuple):
        pairs = [o.split("=", 1) for o in overrides]
        if any(len(p) != 2 for p in pairs):
            raise ValueError(f"Overrides are KEY=VALUE, e.g. training.max_steps=10; got {list(overrides)}.")
        overrides = {k: _value(v) for k, v in pairs}
    for key, value in dict(overrides).items():
        *parents, leaf = key.split(".")
        node = recipe
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    unknown = sorted(set(recipe) - TOP - {"lora", "training"})
    if unknown:
        raise ValueError(f"{file}: unknown keys {unknown}. Fix: use {sorted(TOP)}, lora.* or training.*.")
    return recipe


def _value(text: str) -> Any:
    """A command-line value: JSON where it parses (true, 4, 2e-3, null), then YAML ([q_proj, v_proj]); "no" and
    "off" stay words, as TrainingArguments wants them (YAML 1.1 would read False)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text if text.lower() in {"no", "yes", "on", "off"} else yaml.safe_load(text)


def adapter_dir(recipe: dict[str, Any]) -> Path:
    return Path(recipe.get("adapter_dir") or env.artifacts_dir() / "adapter")


def training_arguments(recipe: dict[str, Any], **overrides: Any):
    """``TrainingArguments(**recipe["training"])``, with the machine's precision unless the recipe sets it."""
    import torch
    from transformers import TrainingArguments

    bf16 = env.bf16_supported()
    kwargs = {
        "output_dir": str(adapter_dir(recipe).with_name(adapter_dir(recipe).name + "-checkpoints")),
        "bf16": bf16,  # autocast to bf16 only where this machine does it fast
        "fp16": torch.cuda.is_available() and not bf16,  # a GPU without bf16 (T4): fp16 mixed precision
        "use_cpu": not torch.cuda.is_available(),
        **{k: v for k, v in recipe["training"].items() if v is not None},
        **overrides,
    }
    return TrainingArguments(**kwargs)


def train(recipe: dict[str, Any], *, callbacks: list | None = None, verbose: bool = True) -> dict[str, Any]:
    """Load the model, clean and tokenize the data, wrap with LoRA, train with ``Trainer``, save the adapter."""
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, set_seed

    from helpers import data
    from helpers.finetune import load_model_for_training
    from helpers.memory import peak_rss_mb, reset_peak_rss

    args = training_arguments(recipe)
    set_seed(args.seed)
    model, tokenizer = load_model_for_training(
        recipe["model"], attn_implementation=recipe.get("attn_implementation"),
        load_in_4bit=recipe.get("load_in_4bit", False),
    )  # fmt: skip
    splits, length = data.load_splits(recipe["data_dir"]), recipe["max_length"]
    limits = {"train": recipe.get("max_train_examples"), "validation": recipe.get("max_eval_examples")}
    datasets, reports = {}, {}
    for split, n in limits.items():  # cleaned as in notebook 01: every record dropped is counted, by reason
        records, reports[split] = data.clean_records(
            splits[split][:n], tokenizer=tokenizer, max_length=length
        )
        features = data.tokenize_records(records, tokenizer, length)[0] if records else []
        datasets[split] = Dataset.from_list([dict(f) for f in features]) if features else None
    if datasets["train"] is None:
        raise ValueError(
            f"No training example is left after cleaning (max_length={length}): {reports['train']['dropped']}. "
            "Fix: check the data (empty answers?) or raise max_length."
        )
    model = get_peft_model(model, LoraConfig(**recipe["lora"]))
    if args.activation_checkpointing:
        model.enable_input_require_grads()  # checkpointed blocks need a grad-requiring input
    trainable, total = model.get_nb_trainable_parameters()
    if datasets["validation"] is None:
        args.eval_strategy = "no"
    if verbose:
        for split, rep in reports.items():
            dropped = {k: v for k, v in rep["dropped"].items() if v}
            print(
                f"{split}: kept {rep['kept']} of {rep['total']} records"
                + (f", dropped {dropped}" if dropped else "")
            )
        print(f"LoRA r={model.peft_config['default'].r}: {trainable:,} trainable of {total:,} params | "
              f"{len(datasets['train'])} train / {len(datasets['validation'] or [])} val examples | "
              f"{'bf16 autocast' if args.bf16 else 'fp16 autocast' if args.fp16 else 'fp32'} on {env.pick_device()}")  # fmt: skip
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=datasets["train"],
        eval_dataset=datasets["validation"],
        # several GPUs in one process (DataParallel) would split the kept positions' 1-D list: off there
        data_collator=data.ChatCollator(
            tokenizer, only_learned_logits=recipe["only_learned_logits"] and args.n_gpu <= 1
        ),
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    reset_peak_rss()  # the peak below is the training's (model already loaded), not the imports'
    start = time.perf_counter()
    resume = args.resume_from_checkpoint  # a checkpoint folder, or "last": the newest one in output_dir
    trainer.train(resume_from_checkpoint=True if resume == "last" else resume)
    seconds = time.perf_counter() - start
    history = trainer.state.log_history
    last = [
        h["eval_loss"] for h in history if "eval_loss" in h and h.get("step") == trainer.state.global_step
    ]
    if not last and trainer.eval_dataset is not None:
        last = [trainer.evaluate()["eval_loss"]]  # always end with the final weights' validation loss
    final_val = last[-1] if last else None
    out = adapter_dir(recipe)
    trainer.save_model(str(out))  # adapter_model.safetensors + adapter_config.json + tokenizer
    if trainer.is_world_process_zero():
        trainer.state.save_to_json(str(out / "trainer_state.json"))  # the loss history: notebook 05 plots it
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    metrics = {
        "train_seconds": round(seconds, 2), "peak_rss_mb": round(peak_rss_mb(), 1), "global_step": trainer.state.global_step,
        "final_train_loss": losses[-1] if losses else None, "final_val_loss": final_val, "trainable_params": trainable,
        "total_params": total, "bf16": bool(args.bf16), "n_train": len(datasets["train"]),
        "n_val": len(datasets["validation"] or []), "adapter_dir": str(out), "cleaning": reports,
        "log_history": trainer.state.log_history,
    }  # fmt: skip
    if verbose:
        print(f"{metrics['global_step']} steps in {seconds:.0f} s | train loss {metrics['final_train_loss']} | "
              f"val loss {final_val} | peak RSS {metrics['peak_rss_mb']:.0f} MB")  # fmt: skip
    return metrics


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m helpers.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=RECIPE, help=f"the recipe YAML (default {RECIPE})")
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE, e.g. training.max_steps=10 lora.r=8")
    ns = parser.parse_args(argv)
    metrics = train(load_recipe(ns.config, ns.overrides))
    if int(os.environ.get("RANK", "0")) == 0:
        print(
            json.dumps({k: v for k, v in metrics.items() if k not in {"log_history", "cleaning"}}, indent=2)
        )
    return metrics


if __name__ == "__main__":
    main()
