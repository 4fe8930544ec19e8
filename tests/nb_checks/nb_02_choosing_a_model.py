"""Checks on what notebook 02 records."""

PUBLISHED = {
    "Qwen/Qwen2.5-7B-Instruct": 7_615_616_512,
    "meta-llama/Llama-2-7b-hf": 6_738_415_616,
    "meta-llama/Llama-3.1-8B-Instruct": 8_030_261_248,
    "Qwen/Qwen2.5-0.5B-Instruct": 494_032_768,
    "HuggingFaceTB/SmolLM2-135M-Instruct": 134_515_008,
}


def check(results: dict) -> None:
    assert results["all_counts_match"] is True
    assert len(results["counts"]) >= 15
    for name, total in PUBLISHED.items():
        assert results["counts"][name] == total, (name, results["counts"][name])
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

    assert results["memory_check"], "no CPU memory measurement recorded"
    for method, ratio in results["memory_check"].items():
        assert abs(ratio - 1) <= 0.25, (method, ratio)

    # Llama 2 paper, Table 2 (A100-80GB GPU-hours), and what they imply at 6ND
    assert results["llama2_7b_published_hours"] == 184_320
    assert results["llama2_70b_published_hours"] == 1_720_320
    for size in ["7b", "70b"]:
        published = results[f"llama2_{size}_published_hours"]
        assert abs(results[f"llama2_{size}_estimate_hours"] / published - 1) <= 0.15, size
    assert 0.35 <= results["implied_mfu"] <= 0.5 and 0.35 <= results["implied_mfu_7b"] <= 0.5
    assert results["llama2_70b_estimate_hours"] > results["llama2_70b_published_hours"], (
        "the 4.1 prose says so"
    )
    assert results["stated_mfu"] == 0.4

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
    assert results["usd_to_rmb"] > 0 and results["a100_usd_per_hour"] > 0
