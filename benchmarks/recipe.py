"""A recipe lever, measured the way it matters: held-out exact match against training time.

    python benchmarks/recipe.py --max_steps 150                          # the course recipe, 150 steps
    python benchmarks/recipe.py --max_steps 150 --learning_rate 4e-3     # any FinetuneConfig field, as for
    python benchmarks/recipe.py --max_steps 150 --lr_scheduler_type cosine   # python -m helpers.finetune
    python benchmarks/recipe.py --max_steps 150 --learning_rate 1e-3 --lora init_lora_weights=pissa_niter_4
    python benchmarks/recipe.py --config configs/train_cpu.yaml --lora use_rslora=true

Trains with helpers.finetune.train (notebook 04's recipe; ``--lora KEY=VALUE`` sets any other LoraConfig field),
then scores the trained model in memory, merged (``merge_and_unload``), on a held-out split the way notebook 05
scores the tuned model (evaluate.generate with the settled stop, evaluate.score_extraction): exact match overall
and per language, beside the training seconds and peak RSS. The split is the validation split unless you say
``--split test``: choosing a recipe is a decision, and notebook 05 (section 1) keeps the test split for the one
score after every decision is made. Prints one JSON line and appends it to
runs/recipe/results.jsonl, so that levers tried one after another sit side by side; the adapter goes to
runs/recipe/adapter (each run replaces it) unless ``--output_dir`` says otherwise.

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

from helpers import data, env, evaluate, finetune  # noqa: E402


def _value(text: str):
    """``--lora`` values: JSON where it parses (true, 4, 0.5, null), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


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
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Every other argument is a FinetuneConfig field (see python -m helpers.finetune --help).",
    )
    parser.add_argument("--name", default=None, help="a label for the run (default: the arguments)")
    parser.add_argument(
        "--lora", action="append", default=[], metavar="KEY=VALUE", help="another LoraConfig field"
    )
    parser.add_argument(
        "--split", choices=["validation", "test"], default="validation", help="the held-out split to score"
    )
    parser.add_argument(
        "--n_examples", type=int, default=None, help="score its first N examples (default all)"
    )
    parser.add_argument("--out", default=str(env.ROOT / "runs" / "recipe"))
    ns, rest = parser.parse_known_args(argv)
    for item in ns.lora:
        if "=" not in item:
            parser.error(f"--lora {item!r}: write KEY=VALUE, e.g. --lora use_rslora=true")
    lora = {k: _value(v) for k, v in (item.split("=", 1) for item in ns.lora)}
    name = ns.name or " ".join(rest + [f"--lora {k}={v}" for k, v in lora.items()]) or "default"
    cfg = finetune.config_from_args(rest)
    out = Path(ns.out)
    if cfg.output_dir is None:
        cfg.output_dir = str(out / "adapter")

    from transformers import AutoTokenizer, TrainerCallback

    class Keep(TrainerCallback):  # the trained model as it is in memory (PiSSA/OLoRA: with its residual base)
        def on_train_end(self, args, state, control, model=None, **kwargs):
            self.model = model

    keep = Keep()
    metrics = finetune.train(cfg, callbacks=[keep], lora_overrides=lora)
    merged = keep.model.merge_and_unload().float().eval()
    tokenizer = AutoTokenizer.from_pretrained(cfg.resolved_output_dir())
    with torch.inference_mode():
        scores = score(merged, tokenizer, cfg.data_dir, ns.split, ns.n_examples)
    result = {
        "name": name,
        "lora": lora,
        **{k: metrics[k] for k in ("global_step", "train_seconds", "peak_rss_mb", "final_val_loss", "bf16")},
        "examples_seen": metrics["global_step"]
        * cfg.per_device_train_batch_size
        * cfg.gradient_accumulation_steps,
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
