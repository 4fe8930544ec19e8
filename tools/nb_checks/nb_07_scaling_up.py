"""Checks on what notebook 07 records: the memory plan, the cost table and the live 2-process DDP run."""

import math

from helpers import costs
from helpers.env import ROOT
from helpers.train import load_recipe


def check(results: dict) -> None:
    # the plan: exact parameter count, and the ordering every learner should see
    gb = results["plan_gb"]
    assert set(gb) == {"full", "full + ckpt", "lora", "lora + ckpt", "qlora", "qlora + ckpt"}, gb
    for method in ["full", "lora", "qlora"]:
        assert gb[f"{method} + ckpt"] < gb[method], f"checkpointing must cut {method}'s memory: {gb}"
    assert gb["qlora + ckpt"] < gb["lora + ckpt"] < gb["full + ckpt"], gb
    fits = results["plan_fits"]
    assert set(fits["full"]) == set(costs.GPUS)
    # a GPU that holds a heavier scenario also holds every lighter one
    for gpu in costs.GPUS:
        if fits["full + ckpt"][gpu]:
            assert fits["lora + ckpt"][gpu] and fits["qlora + ckpt"][gpu], (gpu, fits)

    # full fine-tuning in mixed precision (16 bytes per parameter) fits no single GPU: the summary says so
    assert not any(fits["full + ckpt"].values()), fits["full + ckpt"]
    assert 2.5 < results["qlora_weight_factor"] < 3.0, "Qwen2.5-7B's weights shrink ~2.7x, not 4x"

    # ZeRO: every stage needs less memory per GPU than the one before, by the paper's (2 + 2 + K) Psi formulas
    zero = results["zero_per_gpu_gb"]
    order = ["DDP", "ZeRO-1", "ZeRO-2", "ZeRO-3"]
    assert list(zero) == order, zero
    assert all(zero[a] > zero[b] for a, b in zip(order, order[1:], strict=False)), zero
    psi, n, k = results["plan_params"], results["zero_n_gpus"], costs.ZERO_K
    states = {
        "DDP": (2 + 2 + k) * psi,
        "ZeRO-1": 4 * psi + k * psi / n,
        "ZeRO-2": 2 * psi + (2 + k) * psi / n,
    }
    for stage, total in states.items():  # the activations are the same at every stage
        assert math.isclose(zero[stage] - zero["ZeRO-3"], (total - 16 * psi / n) / 1e9, abs_tol=2e-3), (
            stage,
            zero,
        )

    # cost: positive, only on GPUs where the step fits, with the recomputed forward when checkpointing
    assert results["n_tokens"] > 0
    assert results["costs"], "no GPU can hold the planned LoRA/QLoRA step"
    for row in results["costs"]:
        assert row["minutes"] > 0 and row["usd"] > 0, row
        assert fits[row["method"]][row["gpu"]], row
        assert math.isclose(row["flops_per_token"], 6 if row["method"].endswith("ckpt") else 4), row

    cpu = load_recipe(ROOT / "configs" / "train_cpu.yaml")["training"]
    effective = results["effective_batch_1_process"]
    assert effective["cpu"] == cpu["per_device_train_batch_size"] * cpu["gradient_accumulation_steps"], (
        effective
    )

    # the live DDP run: two ranks in one job, each on half of the data, identical adapters that load
    steps = results["ddp_steps"]
    assert results["ddp_world_sizes"] == [2, 2], results["ddp_world_sizes"]
    assert results["ddp_global_steps"] == [steps, steps], results["ddp_global_steps"]
    half = math.ceil(results["ddp_n_train"] / (4 * 2))
    assert results["ddp_batches_per_epoch"] == [half, half], results["ddp_batches_per_epoch"]
    assert results["ddp_both_trained"] is True
    assert results["ddp_in_sync"] is True
    assert results["ddp_sharded_data"] is True
    assert results["ddp_adapter_loads_and_matches"] is True
