"""Checks on what notebook 02 records."""

from helpers import models

#: Meta, "Llama 2: Open Foundation and Fine-Tuned Chat Models" (2023), Table 2: A100-80GB GPU-hours of pretraining the
#: 70B and the 7B model on 2.0T tokens (tests/test_costs.py checks the cost model against them too).
LLAMA2_70B_GPU_HOURS = 1_720_320
LLAMA2_7B_GPU_HOURS = 184_320


def check(results: dict) -> None:
    # every model of the package's table, each counted exactly as its publisher reports (helpers.models)
    assert set(results["counts"]) == set(models.ARCHITECTURES), sorted(results["counts"])
    for name, total in results["counts"].items():
        assert total == models.ARCHITECTURES[name]["published_params"], (name, total)
    # "our records are short": the longest is far below every context in the table
    assert 0 < results["longest_record_tokens"] < results["shortest_context"] / 10, results[
        "longest_record_tokens"
    ]

    plan = results["plan_gb"]
    assert plan["qlora"] < plan["lora"] < plan["full, pure bf16"] < plan["full"], plan
    # full fine-tuning in bf16 mixed precision: 2 + 2 + 12 bytes per parameter; pure bf16: 2 + 2 + 4
    assert results["full_bytes_per_param"] == {"full": 16.0, "full, pure bf16": 8.0}, results[
        "full_bytes_per_param"
    ]
    assert 2.5 < results["qlora_weight_factor"] < 3.0, "Qwen2.5-7B: embeddings and head stay 16-bit"

    # LoRA always; full fine-tuning too in the default run (smoke skips it: tests/test_costs.py measures it)
    assert "lora" in results["memory_check"], results["memory_check"]
    assert set(results["memory_check"]) <= {"lora", "full"}, results["memory_check"]
    for method, ratio in results["memory_check"].items():
        assert abs(ratio - 1) <= 0.25, (method, ratio)

    # Llama 2 paper, Table 2 (A100-80GB GPU-hours; the constants above), and what they imply at 6ND
    for size, meta in [("7b", LLAMA2_7B_GPU_HOURS), ("70b", LLAMA2_70B_GPU_HOURS)]:
        assert results[f"llama2_{size}_published_hours"] == meta, (size, "not Meta's figure", meta)
    for size, implied in [("7b", results["implied_mfu_7b"]), ("70b", results["implied_mfu"])]:
        published = results[f"llama2_{size}_published_hours"]
        assert abs(results[f"llama2_{size}_estimate_hours"] / published - 1) <= 0.15, size
        assert 0.35 <= implied <= 0.5, (size, implied)
    assert results["llama2_70b_estimate_hours"] > results["llama2_70b_published_hours"], (
        "the 4.1 prose says so"
    )

    # like for like: 7B pretraining vs one LoRA fine-tune of the same 7B model
    assert results["cost_ratio"] > 1000, (
        "pretraining should cost orders of magnitude more than a LoRA fine-tune"
    )
    assert results["cost_ratio_70b"] > 5 * results["cost_ratio"]
    assert results["pretrain_usd"] > 1e5 and results["pretrain_usd_70b"] > 1e6
    assert results["finetune_usd_a100"] < 100
    assert (
        results["finetune_setups"]["T4"] == "qlora + ckpt"
        and results["finetune_setups"]["A100-80GB"] == "lora"
    )
    # the project bill of 4.3: a few hours per run, hundreds to thousands of yuan in all
    assert 1 < results["project_hours_per_run"] < 12
    assert 100 <= results["project_rmb"] <= 10_000, results["project_rmb"]
