"""Checks on what notebook 07 records: the memory plan, the cost table and the live 2-process DDP run."""

import math

import yaml

from helpers import costs
from helpers.env import ROOT
from helpers.finetune import config_from_args
from helpers.models import count_parameters


def check(results: dict) -> None:
    # the plan: exact parameter count, and the ordering every learner should see
    assert results["plan_params"] == count_parameters(results["plan_model"])
    gib = results["plan_gib"]
    assert set(gib) == {"full", "full + ckpt", "lora", "lora + ckpt", "qlora", "qlora + ckpt"}, gib
    for method in ["full", "lora", "qlora"]:
        assert gib[f"{method} + ckpt"] < gib[method], f"checkpointing must cut {method}'s memory: {gib}"
    assert gib["qlora + ckpt"] < gib["lora + ckpt"] < gib["full + ckpt"], gib
    fits = results["plan_fits"]
    assert set(fits["full"]) == set(costs.GPUS)
    # a GPU that holds a heavier scenario also holds every lighter one
    for gpu in costs.GPUS:
        if fits["full + ckpt"][gpu]:
            assert fits["lora + ckpt"][gpu] and fits["qlora + ckpt"][gpu], (gpu, fits)

    # ZeRO: every stage needs less memory per GPU than the one before
    zero = results["zero_per_gpu_gib"]
    order = ["DDP", "ZeRO-1", "ZeRO-2", "ZeRO-3 / FSDP"]
    assert all(zero[a] > zero[b] for a, b in zip(order, order[1:], strict=False)), zero

    # cost: positive, and only on GPUs where the step fits
    assert results["n_tokens"] > 0
    assert results["costs"], "no GPU can hold the planned LoRA/QLoRA step"
    for row in results["costs"]:
        assert row["minutes"] > 0 and row["usd"] > 0, row
        assert fits[row["method"]][row["gpu"]], row

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
    assert 0 < results["ddp_seconds"] < 600

    answers = results["answers"]
    gpu = config_from_args(["--config", str(ROOT / "configs" / "train_gpu.yaml")])
    processes = yaml.safe_load((ROOT / "configs" / "accelerate" / "multi_gpu.yaml").read_text())[
        "num_processes"
    ]
    expected = gpu.per_device_train_batch_size * gpu.gradient_accumulation_steps * processes
    assert answers["effective_batch"] == expected, answers
    assert answers["lowest_stage"] in {0, 1, 2, 3}
    assert answers["cheapest_gpu"] in costs.GPUS
