"""Fine-tune a chat model with LoRA on JSONL chats, then score it: the course's recipe, standard library calls only.

Copy this file into your own project. It reads the same recipe as notebook 04 (`configs/train_cpu.yaml`: `lora:` goes
to `peft.LoraConfig`, `training:` to `transformers.TrainingArguments`, as they are), masks the prompt with -100,
pads with `DataCollatorForSeq2Seq`, trains with the `Trainer`, saves the adapter, and scores the exact match of the
JSON answers on the test split (or `--split validation`) with `model.generate` (greedy).

    python examples/train_lora.py                                        # the course model and data, 300 steps
    python examples/train_lora.py --set training.max_steps=20 --limit 40  # a quick try
    python examples/train_lora.py --model Qwen/Qwen2.5-0.5B-Instruct --data my_data --out my_adapter

`--data` is a folder with train.jsonl, validation.jsonl and test.jsonl: one {"messages": [system, user, assistant]}
per line, the assistant's answer a JSON object. The recipe's `only_learned_logits` and `load_in_4bit` are course
extras (notebook 04 and `helpers.train`); this script leaves them out.
"""

from __future__ import annotations

import argparse
import json
import time
import unicodedata
import warnings
from pathlib import Path

import torch
import yaml
from datasets import Dataset
from peft import LoraConfig, get_peft_model
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    DataCollatorForSeq2Seq,
    Trainer,
    TrainingArguments,
    set_seed,
)

HERE = Path(__file__).resolve().parent
# Library notices the reader cannot act on (peft reads a property transformers 5 deprecated; torch's DataLoader
# mentions pinned memory where there is no GPU). Each would print a site-packages path.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
warnings.filterwarnings("ignore", message=".*pin_memory.*")


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def tokenize(messages: list[dict], tokenizer, max_length: int) -> dict | None:
    """One chat as token ids, labels -100 everywhere but the assistant's answer and its end-of-turn token. Tokens
    are told apart by where they stand in the text (a fast tokenizer's offsets), so it holds where a template's
    last prompt characters and the answer's first ones merge into one token. None when longer than max_length
    (dropped, never truncated)."""
    prompt = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    if len(enc["input_ids"]) > max_length or not full.startswith(prompt):
        return None
    eot = tokenizer.eos_token or ""  # the end-of-turn token, trained; a base model's eos may close no turn
    end = full.rindex(eot) + len(eot) if eot and eot in full[len(prompt) :] else len(full)
    labels = [
        t if start >= len(prompt) and stop <= end else -100
        for t, (start, stop) in zip(enc["input_ids"], enc["offset_mapping"], strict=True)
    ]
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": labels}


def parse(answer: str) -> dict | None:
    """The answer as a JSON object (one Markdown fence around it allowed), else None."""
    text = answer.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def same(a, b) -> bool:
    """The data contract: strings equal after NFKC, folded white space and case; other values equal, same type."""
    if isinstance(a, str) and isinstance(b, str):
        fold = lambda s: " ".join(unicodedata.normalize("NFKC", s).split()).casefold()  # noqa: E731
        return fold(a) == fold(b)
    return type(a) is type(b) and a == b


def exact_match(model, tokenizer, records: list[dict], max_new_tokens: int, batch_size: int = 16) -> float:
    """The share of records whose answer has exactly the gold keys and values (greedy, left-padded batches)."""
    tokenizer.padding_side = "left"
    prompts = [
        tokenizer.apply_chat_template(r["messages"][:-1], add_generation_prompt=True, tokenize=False)
        for r in records
    ]
    order = sorted(range(len(records)), key=lambda i: len(prompts[i]))  # similar lengths: less padding
    hits = 0
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = tokenizer(
            [prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False
        )
        with torch.no_grad():
            out = model.generate(**batch.to(model.device), max_new_tokens=max_new_tokens, do_sample=False)
        for i, seq in zip(idx, out[:, batch["input_ids"].shape[1] :], strict=True):
            got, gold = (
                parse(tokenizer.decode(seq, skip_special_tokens=True)),
                parse(records[i]["messages"][-1]["content"]),
            )
            hits += got is not None and got.keys() == gold.keys() and all(same(got[k], gold[k]) for k in gold)
    return hits / len(records)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--config", default=str(HERE.parent / "configs" / "train_cpu.yaml"), help="the recipe YAML"
    )
    parser.add_argument("--model", help="a hub id or a local folder (default: the recipe's model)")
    parser.add_argument(
        "--data", help="a folder with train/validation/test.jsonl (default: the recipe's data_dir)"
    )
    parser.add_argument("--out", default="artifacts/adapter-example", help="where the adapter goes")
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="e.g. training.max_steps=20 lora.r=8"
    )
    parser.add_argument("--split", default="test", help="the split to score at the end (default: test)")
    parser.add_argument("--limit", type=int, help="score only its first N records")
    ns = parser.parse_args(argv)

    recipe = yaml.safe_load(Path(ns.config).read_text(encoding="utf-8"))
    for item in ns.set:
        key, value = item.split("=", 1)
        *parents, leaf = key.split(".")
        node = recipe
        for p in parents:
            node = node[p]
        node[leaf] = (
            value if value.lower() in {"no", "yes", "on", "off"} else yaml.safe_load(value)
        )  # "no": a word
    name = ns.model or recipe["model"]
    if name.startswith(
        "embedded:"
    ):  # the course's offline model: the one line that needs the course installed
        from helpers.models import resolve

        name = str(resolve(name))
    data = Path(ns.data or recipe["data_dir"])
    data = data if data.exists() else HERE.parent / data  # the recipe's folder, from here or from the course
    splits = {s: read_jsonl(data / f"{s}.jsonl") for s in ("train", "validation", "test")}

    set_seed(recipe["training"].get("seed", 42))  # before LoRA's A matrices are drawn: the same run twice
    tokenizer = AutoTokenizer.from_pretrained(name)
    model = AutoModelForCausalLM.from_pretrained(
        name, dtype=torch.float32, attn_implementation=recipe.get("attn_implementation")
    )
    model = get_peft_model(model, LoraConfig(**recipe["lora"]))
    model.print_trainable_parameters()
    features = {}
    for split, n in [
        ("train", recipe.get("max_train_examples")),
        ("validation", recipe.get("max_eval_examples")),
    ]:
        rows = [tokenize(r["messages"], tokenizer, recipe["max_length"]) for r in splits[split][:n]]
        features[split] = Dataset.from_list([r for r in rows if r is not None])
        print(
            f"{split}: {len(features[split])} of {len(rows)} examples kept (the rest too long or badly templated)"
        )

    bf16 = (
        torch.cuda.is_available() and torch.cuda.get_device_capability()[0] >= 8
    )  # mixed precision where native
    args = TrainingArguments(output_dir=f"{ns.out}-checkpoints", **{"bf16": bf16, **recipe["training"]})
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=features["train"],
        eval_dataset=features["validation"],
        data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100),
        processing_class=tokenizer,
    )
    start = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - start
    model.save_pretrained(ns.out)
    tokenizer.save_pretrained(ns.out)
    val_loss = trainer.evaluate()["eval_loss"]

    merged = model.merge_and_unload().eval()  # the same answers as the adapter, faster to generate with
    longest = max(len(tokenizer(r["messages"][-1]["content"])["input_ids"]) for r in splits["train"])
    scored = splits[ns.split][: ns.limit]
    result = {
        "train_seconds": round(train_seconds, 1),
        "final_val_loss": val_loss,
        "split": ns.split,
        "n": len(scored),
        "exact_match": exact_match(merged, tokenizer, scored, max_new_tokens=longest + 8),
    }
    (Path(ns.out) / "result.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
