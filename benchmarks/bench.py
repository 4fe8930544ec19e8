"""The course's speed claims, measured side by side in one process: training and generation, naive against ours.

    python benchmarks/bench.py                 # `make bench`: about 6 minutes on 2 CPU cores
    python benchmarks/bench.py --examples 8 --prompts 4 --model FOLDER   # a quick check with a small local model

Training, the same model, data, number of examples and LoRA placement per setup:
  (a) the seed tutorial's recipe made to run: Trainer defaults (batch 8, random order), fp32, every example padded
      to max_length 256, logits at every position, LoRA r=8 on q_proj and v_proj only;
  (b) the course default exactly as notebook 04 runs it: configs/train_cpu.yaml through helpers.train (LoraConfig and
      TrainingArguments from the recipe's lora: and training: sections)
      (passes of 2, accumulation 2, batches grouped by length), dynamic padding, logits only where a label is learned
      (ChatCollator(only_learned_logits=True)), LoRA r=16 on every linear layer, bf16 autocast only where it is fast.
  Printed and recorded for each: useful (non-padding) tokens per second, wall time, peak RSS, and the matmul FLOP/s
  actually executed as a share of the fp32 matmul peak measured here (and of the bf16 peak where bf16 is native).
Generation, the same test prompts and greedy decoding:
  (a) one plain model.generate() per prompt on the unmerged adapter;
  (b) the course's evaluation path: a merged copy (merge_and_unload) and helpers.evaluate.generate, notebook 05's
      cell: model.generate on length-sorted, left-padded batches, with a StoppingCriteria that ends a row once its
      answer can no longer parse as JSON (evaluate.json_answer_settled). The answers must be identical (or stopped
      early, each the start of (a)'s, with the same score).
  (b)'s merged copy against the same batched path on the unmerged adapter: the same answers (generate.merged).
  And the base model (which notebook 05 scores too), batched, to end-of-turn against stopped once settled: the
  scores must be the same and each early answer the start of the full one (generate.base_settled).
  benchmarks/generation.py compares this path with transformers' continuous batching (generate_batch) and with the
  course's earlier hand-written engine, on the whole test split.
``--levers`` also times variants of (b) (adapters on fewer layers, passes of 4, torch.compile) and trains (b) in two
fresh processes with oneDNN's kernel caches at their default 1,024 shapes and at the course's cap
(train.levers.kernel_cache: peak RSS and speed of each).
Writes runs/bench/latest.json (and a time-stamped copy) with train.ratio, train.b.share_of_peak, ...
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import data, env, evaluate, finetune, memory, models  # noqa: E402
from helpers.finetune import load_model_for_training, peak_rss_mb, release_freed_memory, reset_peak_rss  # noqa: E402


def matmul_peak(dtype: torch.dtype, *, n: int = 1024, seconds: float = 3.0) -> float:
    """Best FLOP/s of an ``n x n`` matmul in ``dtype`` over about ``seconds`` (on this CPU, these threads)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)  # warm-up
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * n**3 / (time.perf_counter() - start))
    return best


class CountingCollator:
    """Wrap a collator and count what the model computes: positions, real tokens, and output-head positions."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.padded = self.useful = self.head = 0

    def __call__(self, features):
        batch = self.inner(features)
        rows, seq = batch["input_ids"].shape
        self.padded += rows * seq
        self.useful += int(batch["attention_mask"].sum())
        self.head += rows * (batch["logits_to_keep"].numel() if "logits_to_keep" in batch else seq)
        return batch


def matmul_params(model) -> tuple[int, int]:
    """(weights of the transformer blocks' linear layers, weights of the output head), base model only."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    body = sum(
        p.numel() for n, p in base.named_parameters() if ".layers." in n and p.dim() == 2 and "lora_" not in n
    )
    return body, base.config.vocab_size * base.config.hidden_size


def train_setup(
    name: str,
    *,
    model_name: str,
    features: list[dict],
    naive: bool,
    max_length: int,
    out: Path,
    layers: list[int] | None = None,
    compile_model: bool = False,
    passes: tuple[int, int] | None = None,
) -> dict:
    """One epoch over ``features`` in setup (a) naive or (b) course default; return the measurements.

    ``layers`` (peft's ``layers_to_transform``), ``compile_model`` (the Trainer's ``torch_compile``, its
    compile time included) and ``passes`` (examples per pass, passes accumulated per optimizer step) vary (b) for
    ``--levers``.
    """
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainingArguments

    from helpers import train

    recipe = train.load_recipe(train.RECIPE, {"model": model_name, "max_length": max_length})
    if passes:
        (
            recipe["training"]["per_device_train_batch_size"],
            recipe["training"]["gradient_accumulation_steps"],
        ) = passes
    env.set_seed(0)
    model, tokenizer = load_model_for_training(model_name)
    if naive:
        lora = LoraConfig(
            r=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"
        )  # peft's other defaults
        collator = CountingCollator(data.ChatCollator(tokenizer, pad_to_multiple_of=max_length))
        args = (
            TrainingArguments(  # the Trainer's defaults, but fp32 on this machine and no checkpoints or logs
                output_dir=str(out / "a"),
                num_train_epochs=1,
                use_cpu=not torch.cuda.is_available(),
                save_strategy="no",
                report_to="none",
                disable_tqdm=True,
                logging_strategy="no",
                remove_unused_columns=False,
            )
        )
    else:
        lora = LoraConfig(**recipe["lora"], layers_to_transform=layers)  # None: every layer
        collator = CountingCollator(
            data.ChatCollator(tokenizer, only_learned_logits=recipe["only_learned_logits"])
        )
        args = train.training_arguments(
            recipe,
            output_dir=str(out / "b"),
            max_steps=-1,
            num_train_epochs=1,
            eval_strategy="no",
            eval_steps=None,
            logging_strategy="no",
            disable_tqdm=True,
            torch_compile=compile_model,
        )
    model = get_peft_model(model, lora)
    trainer = Trainer(
        model=model, args=args, train_dataset=Dataset.from_list(features), data_collator=collator
    )
    reset_peak_rss()  # hands the allocator's cached free blocks back first: each run's peak is its own
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    body, head = matmul_params(model)
    # executed matmul FLOPs: forward 2 x weights per position, backward 2 x again for the activation gradients
    # (frozen weights get no weight gradient); LoRA's own small products and attention's seq^2 term left out
    flops = 4 * body * collator.padded + 4 * head * collator.head
    result = {
        "setup": name,
        "bf16": bool(args.bf16),
        "batch": f"{args.per_device_train_batch_size} x {args.gradient_accumulation_steps}",
        "lora": f"r={lora.r} on {sorted(lora.target_modules) if not isinstance(lora.target_modules, str) else lora.target_modules}",
        "seconds": round(seconds, 2),
        "useful_tokens": collator.useful,
        "computed_positions": collator.padded,
        "head_positions": collator.head,
        "useful_tokens_per_s": round(collator.useful / seconds, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "flops_per_s": flops / seconds,
        "final_loss": trainer.state.log_history[-1].get("train_loss"),
    }
    del trainer, model
    release_freed_memory()
    return result


def _train_b_here(model_name: str, data_dir: str, examples: str, max_length: str, out: str) -> dict:
    """(b) on the first ``examples`` training examples, in this process (the child of :func:`kernel_cache`)."""
    from transformers import AutoTokenizer

    import helpers

    tokenizer = AutoTokenizer.from_pretrained(
        models.resolve(model_name)
    )  # train_setup loads the model itself
    records = data.load_splits(data_dir)["train"][: int(examples)]
    features, _ = data.tokenize_records(records, tokenizer, int(max_length))
    result = train_setup(
        "(b)",
        model_name=model_name,
        features=features,
        naive=False,
        max_length=int(max_length),
        out=Path(out),
    )
    return {**result, "capacity_seen": [os.environ.get(n) for n in helpers.KERNEL_CACHE_VARIABLES]}


def kernel_cache(model_name: str, data_dir: str, examples: int, max_length: int, out: Path) -> dict:
    """(b) in two fresh processes: oneDNN's kernel caches at their default size (1,024 shapes) against the course's
    cap (helpers.KERNEL_CACHE_CAPACITY, set when helpers is imported). The variables are read once per process, so
    each side needs its own; under bf16 autocast every new batch shape adds cached kernels and their buffers."""
    import helpers

    code = (  # the variables are set before anything imports helpers or torch
        "import json, os, sys; os.environ.update(dict.fromkeys(sys.argv[1].split(','), sys.argv[2])); "
        "sys.path.insert(0, 'benchmarks'); import bench; print(json.dumps(bench._train_b_here(*sys.argv[3:])))"
    )
    args = [model_name, data_dir, str(examples), str(max_length), str(out)]
    names = ",".join(helpers.KERNEL_CACHE_VARIABLES)
    sides = {}
    for key, capacity in (("default_1024", "1024"), ("capped", helpers.KERNEL_CACHE_CAPACITY)):
        r = memory.run_fresh_process(code, [names, capacity, *args], what=f"kernel cache {capacity}")
        keep = ("capacity_seen", "seconds", "peak_rss_mb", "useful_tokens_per_s", "bf16")
        sides[key] = {"capacity": int(capacity), **{k: r[k] for k in keep}}
    d, c = sides["default_1024"], sides["capped"]
    return {
        "examples": examples,
        **sides,
        "rss_saved_mb": round(d["peak_rss_mb"] - c["peak_rss_mb"], 1),
        "speed_vs_default": round(c["useful_tokens_per_s"] / d["useful_tokens_per_s"], 3),
    }


def generation(model_name: str, adapter: Path, records: list[dict], batch_size: int) -> dict:
    """(a) one model.generate per prompt on the unmerged adapter; (b) merged copy + evaluate.generate, batched."""
    from peft import PeftModel

    from helpers import models

    base, tokenizer = models.load_model(model_name)
    model = PeftModel.from_pretrained(base, adapter).eval()
    prompts = [data.prompt_messages(r) for r in records]
    targets = [data.target_text(r) for r in records]
    max_new = evaluate.max_new_tokens_for(tokenizer, targets)
    eos = evaluate._eos_ids(model, tokenizer)  # every end-of-turn id (Qwen lists two)
    start = time.perf_counter()
    plain = []
    with torch.inference_mode():
        for messages in prompts:
            ids = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            out = model.generate(
                **ids,
                do_sample=False,
                max_new_tokens=max_new,
                eos_token_id=eos,
                pad_token_id=tokenizer.pad_token_id,
            )
            plain.append(
                tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True).strip()
            )
    a_seconds = time.perf_counter() - start

    def timed(m, settled=evaluate.json_answer_settled) -> tuple[list[str], float]:
        start = time.perf_counter()
        answers = evaluate.generate(
            m,
            tokenizer,
            prompts,
            max_new_tokens=max_new,
            batch_size=batch_size,
            progress=False,
            settled=settled,
        )
        return answers, time.perf_counter() - start

    start = time.perf_counter()
    merged = copy.deepcopy(model).merge_and_unload().eval()
    course, _ = timed(merged)
    b_seconds = time.perf_counter() - start  # the merge included
    # the merged copy's share of (b): the same batched path on the adapter itself (notebook 05 section 2.3)
    on_adapter, adapter_seconds = timed(model)
    # (b) stops an answer once it can no longer parse (its score is settled): such an answer is the start of (a)'s
    cut, differ = [], []
    for i, (x, y) in enumerate(zip(plain, course, strict=True)):
        if x != y:
            (cut if x.startswith(y) and evaluate.json_answer_settled(y) else differ).append(i)
    # The base model (notebook 05 scores it too), batched both ways: to end-of-turn, and stopped once settled
    with model.disable_adapter():
        (full, full_s), (early, early_s) = timed(model, None), timed(model)
    return {
        "prompts": len(prompts),
        "max_new_tokens": max_new,
        "a": {"setup": "(a) model.generate per prompt, unmerged adapter", "seconds": round(a_seconds, 2)},
        "b": {
            "setup": f"(b) merged copy + evaluate.generate, batches of {batch_size}",
            "seconds": round(b_seconds, 2),
        },
        "ratio": round(a_seconds / b_seconds, 3),
        "outputs_identical": not differ and not cut,
        "differing_prompts": differ,
        "cut_when_settled": cut,  # answers (b) stopped early, each the start of (a)'s, same score
        "base_settled": {
            "setup": "base model, evaluate.generate batched: to end-of-turn against settled=json_answer_settled",
            "full_seconds": round(full_s, 2),
            "settled_seconds": round(early_s, 2),
            "ratio": round(full_s / early_s, 3),
            "same_scores": evaluate.score_extraction(full, targets)
            == evaluate.score_extraction(early, targets),
            "early_answers_are_prefixes": all(f.startswith(e) for f, e in zip(full, early, strict=True)),
            "chars": [sum(map(len, full)), sum(map(len, early))],
        },
        "merged": {
            "setup": "evaluate.generate batched: the unmerged adapter against (b)'s merged copy (merge included)",
            "adapter_seconds": round(adapter_seconds, 2),
            "merged_seconds": round(b_seconds, 2),
            "ratio": round(adapter_seconds / b_seconds, 3),
            "same_answers": on_adapter == course,
        },
        "exact_match": evaluate.score_extraction(course, targets)["exact_match"],
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="embedded:SmolLM2-135M-Instruct")
    parser.add_argument(
        "--examples", type=int, default=48, help="training examples (one epoch in each setup)"
    )
    parser.add_argument("--max_length", type=int, default=256, help="the fixed length of the naive setup")
    parser.add_argument("--prompts", type=int, default=64, help="test prompts for the generation part")
    parser.add_argument(
        "--batch_size", type=int, default=32, help="generation batch of the course path (notebook 05's)"
    )
    parser.add_argument(
        "--adapter",
        default=None,
        help="adapter folder for generation; default <artifacts>/adapter (rebuilt if missing)",
    )
    parser.add_argument(
        "--levers",
        action="store_true",
        help="also time variants of (b): adapters on the last half / third of the layers, passes of 4, torch.compile, "
        "and the oneDNN kernel caches uncapped",
    )
    parser.add_argument(
        "--cache_examples",
        type=int,
        default=160,
        help="--levers: training examples for the kernel-cache comparison (its memory grows with new batch shapes)",
    )
    parser.add_argument("--data_dir", default=str(env.ROOT / "data" / "extraction"))
    parser.add_argument("--out", default=str(env.ROOT / "runs" / "bench"))
    ns = parser.parse_args(argv)

    print(env.machine_report())
    fast_bf16 = env.bf16_supported()
    peaks = {"fp32": matmul_peak(torch.float32)}
    if fast_bf16:
        peaks["bf16"] = matmul_peak(torch.bfloat16)
    print(
        f"torch threads {torch.get_num_threads()} | fast bf16 here: {fast_bf16} | matmul peak: "
        + ", ".join(f"{k} {v / 1e9:.1f} GFLOP/s" for k, v in peaks.items())
    )

    loaded, tokenizer = load_model_for_training(ns.model)
    n_layers = loaded.config.num_hidden_layers  # for --levers
    del loaded
    splits = data.load_splits(ns.data_dir)
    features, report = data.tokenize_records(splits["train"][: ns.examples], tokenizer, ns.max_length)
    print(
        f"training: {len(features)} examples, {sum(len(f['input_ids']) for f in features)} real tokens, longest {report['max_tokens']}"
    )
    scratch = env.artifacts_dir() / "bench"
    common = dict(model_name=ns.model, features=features, max_length=ns.max_length, out=scratch)
    train = {
        "a": train_setup("(a) seed recipe", naive=True, **common),
        "b": train_setup("(b) course default", naive=False, **common),
    }
    for r in train.values():
        r["share_of_peak"] = round(r["flops_per_s"] / peaks["fp32"], 3)
        if "bf16" in peaks:
            r["share_of_bf16_peak"] = round(r["flops_per_s"] / peaks["bf16"], 3)
    train["ratio"] = round(train["b"]["useful_tokens_per_s"] / train["a"]["useful_tokens_per_s"], 3)
    print(
        f"\n{'training':22s} {'batch':>6s} {'wall s':>7s} {'useful tok/s':>12s} {'useful share':>12s} {'peak RSS MB':>11s} {'GFLOP/s':>8s} {'of fp32 peak':>12s}"
    )
    for key in ("a", "b"):
        r = train[key]
        print(
            f"{r['setup']:22s} {r['batch']:>6s} {r['seconds']:7.1f} {r['useful_tokens_per_s']:12.1f} "
            f"{r['useful_tokens'] / r['computed_positions']:12.0%} {r['peak_rss_mb']:11.0f} {r['flops_per_s'] / 1e9:8.1f} {r['share_of_peak']:12.0%}"
        )
    print(f"useful tokens per second, (b) / (a): train.ratio = {train['ratio']:.2f}x")
    if ns.levers:  # speed only: what each does to the held-out score needs a full run (notebooks 04 and 05)
        variants = {
            "last_half": dict(layers=list(range(n_layers // 2, n_layers))),
            "last_third": dict(layers=list(range(n_layers - n_layers // 3, n_layers))),
            "passes_4x1": dict(passes=(4, 1)),  # the same updates in passes of 4: more memory per pass
            "compile": dict(compile_model=True),
        }
        train["levers"] = {}
        for key, kw in variants.items():
            r = train_setup(f"(b) {key}", naive=False, **common, **kw)
            r["vs_b"] = round(r["useful_tokens_per_s"] / train["b"]["useful_tokens_per_s"], 3)
            train["levers"][key] = r
            print(
                f"{r['setup']:22s} {r['seconds']:7.1f} s  {r['useful_tokens_per_s']:7.1f} useful tok/s  {r['vs_b']:.2f}x (b)  peak RSS {r['peak_rss_mb']:.0f} MB  loss {r['final_loss']:.3f}"
            )
        kc = train["levers"]["kernel_cache"] = kernel_cache(
            ns.model, ns.data_dir, ns.cache_examples, ns.max_length, scratch
        )
        d, c = kc["default_1024"], kc["capped"]
        print(
            f"(b), {kc['examples']} examples, fresh processes, {'bf16' if c['bf16'] else 'fp32'}: oneDNN kernel caches "
            f"at 1,024 shapes {d['seconds']:.1f} s, peak RSS {d['peak_rss_mb']:.0f} MB; capped at {c['capacity']} "
            f"{c['seconds']:.1f} s, {c['peak_rss_mb']:.0f} MB: {kc['rss_saved_mb']:.0f} MB saved, "
            f"{kc['speed_vs_default']:.2f}x the speed"
        )

    adapter = finetune.ensure_adapter(
        Path(ns.adapter) if ns.adapter else env.artifacts_dir() / "adapter", model=ns.model
    )
    gen = generation(ns.model, adapter, splits["test"][: ns.prompts], ns.batch_size)
    print(f"\ngeneration, {gen['prompts']} test prompts, greedy, up to {gen['max_new_tokens']} new tokens:")
    for key in ("a", "b"):
        print(f"  {gen[key]['setup']:58s} {gen[key]['seconds']:7.1f} s")
    print(
        f"  identical answers: {gen['outputs_identical']} ({len(gen['cut_when_settled'])} stopped early once settled, "
        f"{len(gen['differing_prompts'])} different) | generate.ratio = {gen['ratio']:.2f}x"
    )
    bs = gen["base_settled"]
    print(
        f"  base model, to end-of-turn {bs['full_seconds']:.1f} s against stopped once settled {bs['settled_seconds']:.1f} s: "
        f"generate.base_settled.ratio = {bs['ratio']:.2f}x | same scores: {bs['same_scores']} | "
        f"early answers are prefixes: {bs['early_answers_are_prefixes']}"
    )
    mg = gen["merged"]
    print(
        f"  batched on the adapter {mg['adapter_seconds']:.1f} s against the merged copy {mg['merged_seconds']:.1f} s: "
        f"generate.merged.ratio = {mg['ratio']:.2f}x | same answers: {mg['same_answers']}"
    )

    result = {
        "machine": env.machine_report(),
        "torch_threads": torch.get_num_threads(),
        "fast_bf16": fast_bf16,
        "peaks_flops_per_s": peaks,
        "train": train,
        "generate": gen,
    }
    out = Path(ns.out)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, default=str)
    (out / "latest.json").write_text(text, encoding="utf-8")
    (out / time.strftime("bench-%Y%m%dT%H%M%SZ.json", time.gmtime())).write_text(text, encoding="utf-8")
    print(f"\nwrote {out / 'latest.json'}")
    if gen["differing_prompts"]:  # a settled answer cut early is no difference
        raise SystemExit(
            f"generation (a) and (b) gave different answers on prompts {gen['differing_prompts']}"
        )
    return result


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
