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
    plan = results["plan_gb"]
    assert plan["qlora"] < plan["lora"] < plan["full"], plan
    assert results["memory_check"], "no CPU memory measurement recorded"
    for method, ratio in results["memory_check"].items():
        assert abs(ratio - 1) <= 0.25, (method, ratio)
    published = results["llama2_70b_published_hours"]
    assert published == 1_720_320
    assert abs(results["llama2_70b_estimate_hours"] / published - 1) <= 0.15
    assert 0.35 <= results["implied_mfu"] <= 0.5
    assert results["stated_mfu"] == 0.4
    assert results["cost_ratio"] > 1000, (
        "pretraining should cost orders of magnitude more than a LoRA fine-tune"
    )
    assert results["pretrain_usd"] > 1e6 and results["finetune_usd_a100"] < 1000
