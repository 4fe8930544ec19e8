"""Checks on what notebook 04 records."""

import json
import math

from helpers import data
from helpers.env import ROOT
from helpers.evaluate import wilson_interval
from tools.nb_checks.nb_05_evaluation import BASE_CEILING, TUNED_TEST_FLOOR


def check(results: dict) -> None:
    steps = results["max_steps"]
    assert steps >= 1, results
    for key in ("final_train_loss", "final_val_loss", "first_train_loss"):
        assert math.isfinite(results[key]) and results[key] > 0, (key, results[key])
    # the kernel's peak was measured (how large it may be depends on the machine: benchmarks/bench.py's territory)
    assert results["peak_rss_mb"] > 0, results["peak_rss_mb"]
    # an interrupted run, resumed from its checkpoint, ends on the uninterrupted run's weights
    assert results["resume_max_diff"] < 1e-5, results["resume_max_diff"]
    # LoRA trains a small fraction of the weights and its file is far smaller than the model
    assert 0 < results["trainable_params"] < 0.05 * results["full_trainable_params"], results
    assert results["adapter_mb"] * 10 < results["model_mb"], results
    # memory measured in fresh processes: LoRA's activations need real memory (an in-kernel run showed +0 MB),
    # and full fine-tuning holds a gradient and AdamW's two moments per weight on top (3 copies of the model)
    assert results["lora_peak_extra_mb"] > 50, results["lora_peak_extra_mb"]
    assert results["full_peak_extra_mb"] > results["lora_peak_extra_mb"], results
    if results["compare_memory"] == "RSS":  # fp32 weights on CPU
        assert results["full_peak_extra_mb"] > 2 * results["model_mb"], results
    # the quick before/after look scores the first quick_n validation examples: each rate is k of those n
    n = results["quick_n"]
    validation = data.load_splits(ROOT / "data" / "extraction")["validation"]
    assert 1 <= n <= len(validation), n
    quick_k = {}
    for key in ("quick_base_exact", "quick_tuned_exact"):
        quick_k[key] = round(results[key] * n)
        assert math.isclose(results[key], quick_k[key] / n, abs_tol=1e-9), (key, results[key], "is no k /", n)
    # the fields the tuned answer got wrong on the first example are fields of its gold record
    gold = json.loads(data.target_text(validation[0]))
    assert set(results["quick_first_wrong_fields"]) <= set(gold), (results["quick_first_wrong_fields"], gold)
    # the copyable script (examples/train_lora.py) ran and scored k of its n validation records
    assert results["script_n"] >= 1, results["script_n"]
    k_script = round(results["script_exact_match"] * results["script_n"])
    assert math.isclose(results["script_exact_match"], k_script / results["script_n"], abs_tol=1e-9), results
    # the tutorial recipe: misaligned labels score worse than a uniform guess; the fix starts far lower;
    # a batch of two unequal examples cannot be stacked without a padding collator
    assert results["seed_error"] is None and results["fixed_error"] is None, results
    assert results["seed_first_loss"] > results["uniform_loss"], results
    assert results["fixed_first_loss"] < results["uniform_loss"], results
    assert results["seed_first_loss"] > 2 * results["fixed_first_loss"], results
    assert results["seed_batch_error_type"] == "ValueError", results["seed_batch_error_type"]
    assert "expected sequence of length" in results["seed_batch_error"], results["seed_batch_error"]
    if not results["smoke"]:  # the default teaching run
        # logits only where a label is learned: a training pass must get faster, not just not slower
        assert results["logits_speedup"] > 1.02, results["logits_speedup"]
        assert steps >= 60, steps  # the time it took is printed and benchmarked, never a reason to fail
        assert results["final_train_loss"] < 0.5 * results["first_train_loss"], results
        assert results["final_val_loss"] < 0.5 * results["first_train_loss"], results
        assert results["quick_tuned_exact"] > results["quick_base_exact"], results
        # a slice of n examples cannot pin a rate down: it misses notebook 05's floors on the whole split
        # only when its Wilson interval excludes them
        base_ci = wilson_interval(quick_k["quick_base_exact"], n)
        tuned_ci = wilson_interval(quick_k["quick_tuned_exact"], n)
        assert base_ci[0] <= BASE_CEILING, ("quick_base_exact", results["quick_base_exact"], base_ci)
        assert tuned_ci[1] >= TUNED_TEST_FLOOR, ("quick_tuned_exact", results["quick_tuned_exact"], tuned_ci)
