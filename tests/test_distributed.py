"""2-process DDP on CPU (gloo) with the real training CLI: both ranks train, stay identical, rank 0's adapter loads.

Launched here with torchrun. ``accelerate launch --config_file configs/accelerate/cpu_ddp.yaml`` launches the same
run, on the same tiny model, in notebook 07's smoke run, whose checks (tools/nb_checks/nb_07_scaling_up.py) ask the
same of it: one job of two ranks, each on its half of the data, identical adapters, one that loads.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from helpers.env import ROOT

STEPS = 3
BATCH = 4
N_TRAIN = 32
WORLD = 2


def _run(tmp_path: Path, model: str) -> tuple[subprocess.CompletedProcess, Path, Path]:
    out, ranks = tmp_path / "adapter", tmp_path / "ranks"
    train_args = [
        "-m", "helpers.finetune", "--config", "configs/train_cpu.yaml", "--model", model,
        "--max_steps", str(STEPS), "--per_device_train_batch_size", str(BATCH), "--gradient_accumulation_steps", "1",
        "--warmup_steps", "0",
        "--max_train_examples", str(N_TRAIN), "--max_eval_examples", "4", "--eval_steps", "0",
        "--logging_steps", "1", "--disable_tqdm", "true", "--output_dir", str(out),
    ]  # fmt: skip
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={WORLD}",
        *train_args,
    ]
    env = {**os.environ, "LORA_LAB_RANK_REPORT": str(ranks), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (
        f"torchrun run failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-6000:]}"
    )
    return proc, out, ranks


def test_two_process_ddp_trains_in_sync_and_saves_a_loadable_adapter(
    tmp_path: Path, tiny_qwen2_dir: str
) -> None:
    import torch
    from peft import PeftModel

    from helpers.finetune import adapter_fingerprint
    from helpers.models import load_model

    _, out, ranks = _run(tmp_path, tiny_qwen2_dir)
    reports = sorted((json.loads(p.read_text()) for p in ranks.glob("rank*.json")), key=lambda r: r["rank"])

    # both ranks ran, inside ONE distributed job (two independent single-process runs with the same seed
    # would also end with equal weights, so the world size and the data split are checked too)
    assert [r["rank"] for r in reports] == [0, 1], reports
    for r in reports:
        assert r["world_size"] == WORLD and r["backend"] == "gloo", r
        assert r["global_step"] == STEPS, r
        assert r["n_train"] == N_TRAIN, r
        assert r["batches_per_epoch"] == math.ceil(N_TRAIN / (BATCH * WORLD)), (
            "each rank must read its own half"
        )
        assert r["start_fingerprint"] != r["end_fingerprint"], f"rank {r['rank']}'s adapter did not change"

    # the gradient all-reduce kept the ranks identical
    assert reports[0]["start_fingerprint"] == reports[1]["start_fingerprint"]
    assert reports[0]["end_fingerprint"] == reports[1]["end_fingerprint"], "the ranks' adapters drifted apart"

    # rank 0 saved a complete adapter that loads, and it holds exactly the trained weights
    assert (out / "adapter_model.safetensors").is_file() and (out / "adapter_config.json").is_file()
    base, tokenizer = load_model(tiny_qwen2_dir, device="cpu")
    tuned = PeftModel.from_pretrained(base, str(out))
    assert adapter_fingerprint(tuned) == reports[0]["end_fingerprint"]
    ids = tokenizer("hello world", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        tuned_logits = tuned(input_ids=ids).logits
        with tuned.disable_adapter():
            base_logits = tuned(input_ids=ids).logits
    assert not torch.allclose(tuned_logits, base_logits), "the loaded adapter does not change the model"
