"""Checks on what notebook 03 (the LoRA math) records."""

from __future__ import annotations

import math

from helpers import lora, models


def check(results: dict) -> None:
    config = models.architecture(models.DEFAULT_MODEL)
    expected_qv = lora.lora_parameter_count(config, ["q_proj", "v_proj"], 8)
    assert results["qv_r8_trainable_formula"] == expected_qv
    assert results["qv_r8_trainable_peft"] == expected_qv
    assert results["tutorial_trainable_peft"] == expected_qv  # r=8 on q/v, whatever alpha and dropout
    assert results["same_init_as_peft"] is True
    assert 0 <= results["hand_vs_peft_max_abs_diff"] < 1e-5
    assert 0 <= results["merge_relative_diff"] < 1e-5
    assert results["train_steps"] >= 1
    assert math.isfinite(results["loss_first"]) and math.isfinite(results["loss_last"])
    assert results["loss_first"] > 0
    assert results["adapted_layers"] == 7 * config.num_hidden_layers
    r = results["rank"]
    assert 1 <= results["mean_energy_rank"] <= r
    assert 1 <= results["mean_entropy_rank"] <= r
    assert 1 <= results["mean_entropy_rank_random_b"] <= r
