"""GPU smoke test: run the training script on CUDA with the embedded model; print throughput and peak memory.

Usage (on a machine with an NVIDIA GPU):

    python scripts/gpu_smoke.py                              # fp32, bf16, bf16 + gradient checkpointing, QLoRA
    python scripts/gpu_smoke.py --variants bf16 qlora        # a subset
    python scripts/gpu_smoke.py --max_steps 40 -- model=Qwen/Qwen2.5-0.5B-Instruct max_length=512

Everything after ``--`` is passed to ``helpers.train`` as overrides of configs/train_gpu.yaml (any key, KEY=VALUE).
Each variant runs in its own process, so its peak GPU memory is its own. Variants whose package is
missing (QLoRA needs bitsandbytes, flash needs flash-attn) are skipped with a message.
Without CUDA the script stops at once and says so (exit status 2): there is nothing to measure.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without `pip install -e .`

#: Variant name -> (recipe overrides, the package it needs or None).
VARIANTS: dict[str, tuple[list[str], str | None]] = {
    "fp32": (["training.bf16=false"], None),
    "bf16": (["training.bf16=true"], None),
    "bf16+gc": (["training.bf16=true", "training.activation_checkpointing=true"], None),
    "qlora": (
        ["training.bf16=true", "training.activation_checkpointing=true", "load_in_4bit=true"],
        "bitsandbytes",
    ),
    "flash": (["training.bf16=true", "attn_implementation=flash_attention_2"], "flash_attn"),
}
DEFAULT_VARIANTS = ["fp32", "bf16", "bf16+gc", "qlora"]
NO_CUDA = (
    "gpu_smoke: no CUDA GPU is visible (torch.cuda.is_available() is False), so there is nothing to measure.\n"
    "Run this on a machine with an NVIDIA GPU and a CUDA build of torch, e.g.\n"
    "  pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128\n"
    "On this CPU use notebook 07's 2-process DDP run instead."
)


def _child(variant: str, max_steps: int, overrides: list[str]) -> dict:
    """Train one variant in this process; return its measurements."""
    import torch
    from transformers import AutoTokenizer, TrainerCallback

    from helpers import data, train
    from helpers.models import resolve

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_step_end(self, args, state, control, **kwargs):
            torch.cuda.synchronize()
            self.ends.append(time.perf_counter())

    out = Path(tempfile.mkdtemp(prefix="gpu-smoke-"))
    argv = [f"training.max_steps={max_steps}", "training.eval_strategy=no", "training.disable_tqdm=true"]
    argv += [f"training.logging_steps={max(1, max_steps // 5)}", f"training.output_dir={out / 'checkpoints'}"]
    argv += [f"adapter_dir={out / 'adapter'}", *VARIANTS[variant][0], *overrides]
    cfg = train.load_recipe(ROOT / "configs" / "train_gpu.yaml", argv)
    timer = StepTimer()
    torch.cuda.reset_peak_memory_stats()
    metrics = train.train(cfg, callbacks=[timer], verbose=False)
    # Steady-state step time: skip the first steps (CUDA context, kernel selection, allocator warm-up).
    gaps = [b - a for a, b in zip(timer.ends, timer.ends[1:], strict=False)][2:] or [metrics["train_seconds"]]
    step_s = statistics.median(gaps)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    samples_per_step = (
        cfg["training"]["per_device_train_batch_size"]
        * cfg["training"]["gradient_accumulation_steps"]
        * world
    )
    # Mean non-padding tokens per training example, from the same tokenization the run used.
    tokenizer = AutoTokenizer.from_pretrained(resolve(cfg["model"]))
    records, _ = data.clean_records(
        data.load_splits(cfg["data_dir"])["train"], tokenizer=tokenizer, max_length=cfg["max_length"]
    )
    features, _ = data.tokenize_records(records, tokenizer, cfg["max_length"])
    mean_tokens = statistics.fmean(len(f["input_ids"]) for f in features)
    return {
        "variant": variant,
        "gpu": torch.cuda.get_device_name(0),
        "steps": metrics["global_step"],
        "train_seconds": metrics["train_seconds"],
        "step_seconds": round(step_s, 4),
        "samples_per_s": round(samples_per_step / step_s, 1),
        "tokens_per_s": round(samples_per_step * mean_tokens / step_s),
        "peak_alloc_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 2),
        "final_train_loss": metrics["final_train_loss"],
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, overrides = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS, choices=sorted(VARIANTS))
    parser.add_argument("--max_steps", type=int, default=30)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print(NO_CUDA, file=sys.stderr)
        return 2
    if args.child:
        print("GPU_SMOKE_RESULT " + json.dumps(_child(args.child, args.max_steps, overrides)), flush=True)
        return 0

    print(f"GPU: {torch.cuda.get_device_name(0)} | bf16 supported: {torch.cuda.is_bf16_supported()}")
    rows, failed = [], 0
    for variant in args.variants:
        needs = VARIANTS[variant][1]
        if needs and importlib.util.find_spec(needs) is None:
            print(f"- {variant}: skipped ({needs} is not installed; pip install {needs.replace('_', '-')})")
            continue
        cmd = [
            sys.executable,
            __file__,
            "--child",
            variant,
            "--max_steps",
            str(args.max_steps),
            "--",
            *overrides,
        ]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("GPU_SMOKE_RESULT ")]
        if proc.returncode != 0 or not lines:
            print(f"- {variant}: FAILED (exit {proc.returncode})\n{(proc.stdout + proc.stderr)[-3000:]}")
            failed += 1
            continue
        row = json.loads(lines[-1].split(" ", 1)[1])
        rows.append(row)
        print(f"- {variant}: done in {row['train_seconds']:.0f} s")
    if not rows:
        return 1
    head = f"{'variant':<9} {'steps':>5} {'s/step':>7} {'samples/s':>9} {'~tokens/s':>9} {'peak GiB':>8} {'loss':>6}"
    print("\n" + head + "\n" + "-" * len(head))
    for r in rows:
        loss = f"{r['final_train_loss']:.3f}" if r["final_train_loss"] is not None else "-"
        print(
            f"{r['variant']:<9} {r['steps']:>5} {r['step_seconds']:>7.3f} {r['samples_per_s']:>9.1f} "
            f"{r['tokens_per_s']:>9} {r['peak_alloc_gib']:>8.2f} {loss:>6}"
        )
    base = next((r for r in rows if r["variant"] == "fp32"), None)
    if base:
        for r in rows:
            if r is not base:
                print(
                    f"{r['variant']}: {r['samples_per_s'] / base['samples_per_s']:.2f}x the fp32 throughput, "
                    f"{r['peak_alloc_gib'] / base['peak_alloc_gib']:.2f}x its peak memory"
                )
    print("GPU_SMOKE_TABLE " + json.dumps(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
