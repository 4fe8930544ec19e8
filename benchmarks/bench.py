"""LoRA training throughput: the naive setup against the course default, side by side in one process.

    python benchmarks/train_throughput.py            # `make bench`; about 2-4 minutes on 2 CPU cores
    python benchmarks/train_throughput.py --examples 16 --model FOLDER   # a quick check with a small local model folder

(a) naive:          fp32, every example padded to a fixed max_length, Trainer defaults (random order).
(b) course default: dynamic padding (ChatCollator), batches grouped by length, bf16 autocast where this machine
                    has fast bf16 (helpers.env.bf16_supported()), fp32 elsewhere.

Both train the same model with the same LoRA config on the same examples (one epoch, same batch size). Printed for
each: useful (non-padding) tokens per second, wall time, peak RSS, and the achieved FLOP/s as a share of the
fp32 and bf16 matmul peaks measured in this run; then the ratio (b) / (a) of useful tokens per second.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import data, env  # noqa: E402
from helpers.costs import training_flops  # noqa: E402
from helpers.finetune import load_model_for_training, peak_rss_mb, reset_peak_rss  # noqa: E402


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
    """Wrap a collator and count the tokens it hands out: all positions, and the real (non-padding) ones."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.padded = 0
        self.useful = 0

    def __call__(self, features):
        batch = self.inner(features)
        self.padded += batch["input_ids"].numel()
        self.useful += int(batch["attention_mask"].sum())
        return batch


def release_freed_memory() -> None:
    """Hand glibc's cached free blocks back to the OS, so one run's cache does not inflate the next one's RSS."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def run(
    name: str,
    *,
    model_name: str,
    features: list[dict],
    naive: bool,
    max_length: int,
    batch_size: int,
    out: Path,
):
    """Train one epoch over ``features`` with LoRA in setup (a) or (b); return the measurements."""
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainingArguments

    env.set_seed(0)
    model, tokenizer = load_model_for_training(model_name)
    model = get_peft_model(
        model,
        LoraConfig(
            r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM"
        ),
    )
    collator = CountingCollator(
        data.ChatCollator(tokenizer, pad_to_multiple_of=max_length if naive else None)
    )
    bf16 = False if naive else env.bf16_supported()
    args = TrainingArguments(
        output_dir=str(out / name),
        num_train_epochs=1,
        per_device_train_batch_size=batch_size,
        bf16=bf16,
        use_cpu=not torch.cuda.is_available(),
        train_sampling_strategy="random" if naive else "group_by_length",
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        logging_strategy="no",
        remove_unused_columns=False,
        seed=0,
    )
    from datasets import Dataset

    trainer = Trainer(
        model=model, args=args, train_dataset=Dataset.from_list(features), data_collator=collator
    )
    release_freed_memory()
    reset_peak_rss()
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    n_params = sum(p.numel() for p in model.parameters())
    result = {
        "name": name,
        "bf16": bf16,
        "seconds": seconds,
        "useful_tokens": collator.useful,
        "padded_tokens": collator.padded,
        "useful_tok_s": collator.useful / seconds,
        "peak_rss_mb": peak_rss_mb(),
        # 4 N D for LoRA (forward + activation gradients through the frozen weights), on the tokens computed
        "flops_s": training_flops(n_params, collator.padded, "lora") / seconds,
        "useful_flops_s": training_flops(n_params, collator.useful, "lora") / seconds,
    }
    del trainer, model
    release_freed_memory()
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="embedded:SmolLM2-135M-Instruct")
    parser.add_argument("--examples", type=int, default=48, help="training examples (one epoch each setup)")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--max_length", type=int, default=256, help="the fixed length of the naive setup")
    parser.add_argument("--data_dir", default=str(env.ROOT / "data" / "extraction"))
    ns = parser.parse_args(argv)

    print(env.machine_report())
    print(f"torch threads {torch.get_num_threads()} | fast bf16 on this machine: {env.bf16_supported()}")
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    note = "" if env.cpu_has_fast_bf16() else "  (bf16 is emulated on this CPU: no AVX512-BF16/AMX)"
    print(
        f"matmul peak: fp32 {peaks['fp32'] / 1e9:.1f} GFLOP/s | bf16 {peaks['bf16'] / 1e9:.1f} GFLOP/s{note}"
    )

    _, tokenizer = load_model_for_training(ns.model)
    records = data.load_splits(ns.data_dir)["train"][: ns.examples]
    features, report = data.tokenize_records(records, tokenizer, ns.max_length)
    print(
        f"{len(features)} examples, {sum(len(f['input_ids']) for f in features)} real tokens, longest {report['max_tokens']}"
    )

    out = env.artifacts_dir() / "bench"
    common = dict(
        model_name=ns.model, features=features, max_length=ns.max_length, batch_size=ns.batch_size, out=out
    )
    results = [
        run("(a) naive", naive=True, **common),
        run("(b) course default", naive=False, **common),
    ]
    header = f"{'setup':20s} {'dtype':5s} {'wall s':>7s} {'useful tok/s':>12s} {'pad share':>9s} {'peak RSS MB':>11s} "
    header += f"{'GFLOP/s':>8s} {'% bf16 peak':>11s} {'% fp32 peak':>11s}"
    print("\n" + header)
    for r in results:
        pad = 1 - r["useful_tokens"] / r["padded_tokens"]
        print(
            f"{r['name']:20s} {'bf16' if r['bf16'] else 'fp32':5s} {r['seconds']:7.1f} {r['useful_tok_s']:12.1f} "
            f"{pad:9.0%} {r['peak_rss_mb']:11.0f} {r['flops_s'] / 1e9:8.1f} {r['flops_s'] / peaks['bf16']:11.0%} "
            f"{r['flops_s'] / peaks['fp32']:11.0%}"
        )
    ratio = results[1]["useful_tok_s"] / results[0]["useful_tok_s"]
    print(
        "\nFLOP/s = 4 x params x tokens computed (padding included) / wall time (LoRA: forward + activation "
        "gradients; attention's seq^2 term left out).\nUseful-token FLOP/s of (b): "
        f"{results[1]['useful_flops_s'] / 1e9:.1f} GFLOP/s = {results[1]['useful_flops_s'] / peaks['bf16']:.0%} "
        "of the bf16 peak."
    )
    print(f"\nuseful tokens/s, (b) / (a): {ratio:.2f}x")
    return {"peaks": peaks, "results": results, "ratio": ratio}


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
