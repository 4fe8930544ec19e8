"""Checks on what notebook 04 records."""

import math


def check(results: dict) -> None:
    steps = results["max_steps"]
    assert steps >= 1 and results["train_seconds"] > 0, results
    for key in ("final_train_loss", "final_val_loss", "first_train_loss"):
        assert math.isfinite(results[key]) and results[key] > 0, (key, results[key])
    assert 0 < results["peak_rss_mb"] < 3072, results["peak_rss_mb"]
    # an interrupted run, resumed from its checkpoint, ends on the uninterrupted run's weights
    assert results["resume_max_diff"] < 1e-5, results["resume_max_diff"]
    # LoRA trains a small fraction of the weights and its file is far smaller than the model
    assert 0 < results["trainable_params"] < 0.05 * results["full_trainable_params"], results
    assert results["adapter_mb"] * 10 < results["model_mb"], results
    assert results["full_peak_extra_mb"] > results["lora_peak_extra_mb"], results
    for key in ("quick_base_exact", "quick_tuned_exact"):
        assert 0.0 <= results[key] <= 1.0, (key, results[key])
    if not results["smoke"]:  # the default teaching run
        assert steps >= 60 and results["train_seconds"] <= 360, results
        assert results["final_train_loss"] < 0.5 * results["first_train_loss"], results
        assert results["final_val_loss"] < 0.5 * results["first_train_loss"], results
        assert results["quick_tuned_exact"] > results["quick_base_exact"], results
