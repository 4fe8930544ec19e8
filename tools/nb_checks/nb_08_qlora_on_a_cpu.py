"""Notebook 08, appendix A: QLoRA live on the CPU: skipped with a reason, or every figure it printed is sound."""

from __future__ import annotations

import math


def check(results: dict) -> None:
    if results["qlora_skipped"]:
        assert results["qlora_skip_reason"].strip() and "\n" not in results["qlora_skip_reason"], results
        from helpers.quant import bnb_cpu_available

        ok, reason = bnb_cpu_available()
        # where bitsandbytes' CPU backend runs (our lock installs it), the smoke run must not skip the section
        assert not ok, f"the live part skipped ({results['qlora_skip_reason']}) although {reason}"
        return
    fp32, nf4 = results["fp32_footprint_mb"], results["qlora_footprint_mb"]
    assert nf4 < fp32 / 2.5, f"NF4 weights ({nf4} MB) should be well under fp32's ({fp32} MB) / 2.5"
    if results["bf16_footprint_mb"] is not None:
        assert math.isclose(results["bf16_footprint_mb"], fp32 / 2, rel_tol=0.01), results
    assert 0.01 < results["nf4_rel_error"] < 0.2, "4-bit NF4 rounds a weight matrix by a few percent to ~10 %"
    assert results["nf4_logit_max_diff"] > 0 and 0 < results["nf4_top1_agree"] <= 1, results
    steps = results["qlora_steps"]
    for method in ["lora", "qlora"]:
        losses = results[f"{method}_train_losses"]
        assert len(losses) == steps and all(math.isfinite(x) and x > 0 for x in losses), (method, losses)
        assert math.isfinite(results[f"{method}_val_loss"]) and results[f"{method}_val_loss"] > 0, results
        k = results[f"{method}_exact"] * results["qlora_n_exact"]  # exact on k of the first n_exact examples
        assert results["qlora_n_exact"] >= 1 and math.isclose(k, round(k)), (method, k, "is no whole count")
        # the peak RSS holds the weights (and the interpreter, activations, the allocator's cache)
        weights = nf4 if method == "qlora" else fp32
        assert results[f"{method}_peak_rss_mb"] > weights, (method, results[f"{method}_peak_rss_mb"], weights)
    # merging into fp32 reproduces the unmerged adapter; merging into NF4 re-quantizes and loses the update
    assert results["merge_fp32_max_diff"] < 1e-3, results["merge_fp32_max_diff"]
    assert results["merge_nf4_vs_fp32_max_diff"] > 100 * results["merge_fp32_max_diff"], results
    assert results["merge_nf4_update_error"] > 0.5, "the NF4 merge should round most of B·A away"
