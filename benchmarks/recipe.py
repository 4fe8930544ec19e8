"""A recipe lever, measured the way it matters: held-out exact match against training time.

    python benchmarks/recipe.py training.max_steps=150                               # the course recipe, 150 steps
    python benchmarks/recipe.py training.max_steps=150 training.learning_rate=4e-3   # any key of the recipe, as for
    python benchmarks/recipe.py training.max_steps=150 training.lr_scheduler_type=cosine   # python -m helpers.train
    python benchmarks/recipe.py training.max_steps=150 lora.init_lora_weights=pissa_niter_4
    python benchmarks/recipe.py --config configs/train_cpu.yaml lora.use_rslora=true

Trains with helpers.train (configs/train_cpu.yaml, notebook 04's recipe; ``lora.KEY=VALUE`` sets any LoraConfig field),
then scores the trained model in memory, merged (``merge_and_unload``), on a held-out split the way notebook 05
scores the tuned model (evaluate.generate with the settled stop, evaluate.score_extraction): exact match overall
and per language, beside the training seconds and peak RSS. The split is the validation split unless you say
``--split test``: choosing a recipe is a decision, and notebook 05 (section 1) keeps the test split for the one
score after every decision is made. Prints one JSON line and appends it to
runs/recipe/results.jsonl, so that levers tried one after another sit side by side; the adapter goes to
runs/recipe/adapter (each run replaces it) unless ``adapter_dir=...`` says otherwise.

Exact match moves by a few points between runs that differ only in numerics (bf16 or fp32, another CPU), and the
line carries its 95 % Wilson interval (sampling error alone): compare a lever with a run of the default recipe on
the same machine, and trust only differences well beyond both. PiSSA and OLoRA change the base weights (they keep the
residual): the model scored here is the trained one in memory, but the adapter saved on disk then needs peft's
conversion before it is used on the original base model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import data, env, evaluate, train  # noqa: E402


def score(model, tokenizer, data_dir: str, split: str, n: int | None, batch_size: int = 32) -> dict:
    """Notebook 05's scoring of the tuned model: greedy answers to ``split`` (its first ``n`` examples, or all),
    exact match overall and per language (``max_new_tokens`` from the validation answers, as in 05)."""
    splits = data.load_splits(data_dir)
    test = splits[split][:n] if n else splits[split]
    targets = [data.target_text(r) for r in test]
    max_new = evaluate.max_new_tokens_for(
        tokenizer, [data.target_text(r) for r in splits["validation"]], margin=16
    )
    start = time.perf_counter()
    answers = evaluate.generate(
        model,
        tokenizer,
        [data.prompt_messages(r) for r in test],
        max_new_tokens=max_new,
        batch_size=batch_size,
        desc=split,
        settled=evaluate.json_answer_settled,
    )
    seconds = time.perf_counter() - start
    langs = [r["meta"]["lang"] for r in test]
    by_lang = {}
    for lang in sorted(set(langs)):
        pick = [i for i, g in enumerate(langs) if g == lang]
        by_lang[lang] = evaluate.score_extraction([answers[i] for i in pick], [targets[i] for i in pick])[
            "exact_match"
        ]
    exact = evaluate.score_extraction(answers, targets)["exact_match"]
    return {
        "split": split,
        "n_examples": len(test),
        "exact_match": exact,
        "exact_match_95ci": [
            round(x, 3) for x in evaluate.wilson_interval(round(exact * len(test)), len(test))
        ],
        "by_lang": by_lang,
        "generate_seconds": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default=train.RECIPE, help=f"the recipe YAML (default {train.RECIPE})")
    parser.add_argument(
        "overrides", nargs="*", help="KEY=VALUE, e.g. training.max_steps=150 lora.use_rslora=true"
    )
    parser.add_argument("--name", default=None, help="a label for the run (default: the overrides)")
    parser.add_argument(
        "--split", choices=["validation", "test"], default="validation", help="the held-out split to score"
    )
    parser.add_argument(
        "--n_examples", type=int, default=None, help="score its first N examples (default all)"
    )
    parser.add_argument("--out", default=str(env.ROOT / "runs" / "recipe"))
    ns = parser.parse_args(argv)
    out = Path(ns.out)
    cfg = train.load_recipe(ns.config, [f"adapter_dir={out / 'adapter'}", *ns.overrides])
    name = ns.name or " ".join(ns.overrides) or "default"

    from transformers import AutoTokenizer, TrainerCallback

    class Keep(TrainerCallback):  # the trained model as it is in memory (PiSSA/OLoRA: with its residual base)
        def on_train_end(self, args, state, control, model=None, **kwargs):
            self.model = model

    keep = Keep()
    metrics = train.train(cfg, callbacks=[keep])
    merged = keep.model.merge_and_unload().float().eval()
    tokenizer = AutoTokenizer.from_pretrained(train.adapter_dir(cfg))
    with torch.inference_mode():
        scores = score(merged, tokenizer, cfg["data_dir"], ns.split, ns.n_examples)
    steps = cfg["training"]
    result = {
        "name": name,
        "overrides": ns.overrides,
        **{k: metrics[k] for k in ("global_step", "train_seconds", "peak_rss_mb", "final_val_loss", "bf16")},
        "examples_seen": metrics["global_step"]
        * steps["per_device_train_batch_size"]
        * steps["gradient_accumulation_steps"],
        **scores,
        "machine": env.machine_report(),
    }
    line = json.dumps(result, ensure_ascii=False)
    print(line)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.jsonl", "a", encoding="utf-8") as f:
        f.write(line + "\n")
    return result


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
