"""Checks on what notebook 03 (the LoRA math) records."""

from __future__ import annotations

import math

from helpers import lora, models

QV = ["q_proj", "v_proj"]


def check(results: dict) -> None:
    config = models.architecture(models.DEFAULT_MODEL)
    shapes = lora.linear_shapes(config)
    expected_qv = lora.lora_parameter_count(config, QV, 8)
    assert results["qv_r8_trainable_formula"] == expected_qv
    assert results["qv_r8_trainable_peft"] == expected_qv
    assert results["tutorial_trainable_peft"] == expected_qv  # r=8 on q/v, whatever alpha and dropout
    assert results["same_init_as_peft"] is True
    assert 0 <= results["hand_vs_peft_max_abs_diff"] < 1e-5
    assert 0 <= results["merge_relative_diff"] < 1e-5

    # Section 1: the pretrained weight's spectrum and the Q4_1 rounding noise, as the prose reads them
    n = shapes["q_proj"][0]
    assert results["q_proj0_on_q4_1_grid"] is True  # the weights really are dequantized Q4_1
    assert 1 <= results["q_proj0_k90"] < n / 2  # "concentrated in a minority of directions"
    assert results["q_proj0_rank16_energy"] < 0.9  # "a rank-16 approximation keeps only ..."
    assert results["q_proj0_numerical_rank"] >= 0.95 * n  # "(nearly) full"
    assert 0 < results["q_proj0_noise_energy_share"] < 0.05
    assert (
        results["q_proj0_above_noise"] < results["q_proj0_numerical_rank"]
    )  # the tail is within the noise's reach
    assert 0 < results["q_proj0_tail_energy_share"] < 0.05  # "only a small share"

    # Section 7: DoRA by hand against peft's use_dora=True
    assert results["dora_init_equals_base"] is True
    assert 0 <= results["dora_vs_peft_max_abs_diff"] < 1e-5
    assert 0 <= results["dora_grad_vs_peft_max_abs_diff"] < 1e-6
    assert 0 <= results["dora_merge_relative_diff"] < 1e-5
    assert 0 <= results["dora_merge_vs_peft_max_abs_diff"] < 1e-6
    assert results["dora_twin_equal"] is True
    v_in, v_out = shapes["v_proj"]
    assert (
        results["dora_layer_trainable"] == results["dora_layer_trainable_peft"] == 8 * (v_in + v_out) + v_out
    )
    magnitudes = config.num_hidden_layers * (shapes["q_proj"][1] + shapes["v_proj"][1])
    assert (
        results["dora_qv_r8_trainable_peft"]
        == results["dora_qv_r8_trainable_formula"]
        == expected_qv + magnitudes
    )

    # Section 8: alpha/r vs alpha/sqrt(r) at the same alpha and learning rate, as the prose reads the table
    ranks = results["sweep_ranks"]
    std, rs = results["sweep_first_step_alpha_r"], results["sweep_first_step_rslora"]
    lr_std = results["sweep_first_step_alpha_r_lr_sqrt_r"]
    loss_std, loss_rs = results["sweep_loss_alpha_r"], results["sweep_loss_rslora"]
    loss_lr = results["sweep_loss_alpha_r_lr_sqrt_r"]
    assert ranks[0] == 1 and std[0] == rs[0] == lr_std[0] and loss_std[0] == loss_rs[0] == loss_lr[0]
    for i, r in enumerate(ranks[1:], start=1):
        assert 0.8 < std[i] / std[0] * math.sqrt(r) < 1.5, (r, std)  # "roughly like 1/sqrt(r)"
        assert 0.8 < rs[i] / rs[0] < 1.5, (r, rs)  # "about the same size at every rank"
        assert rs[i] > std[i]  # "larger steps at every rank above 1"
        assert math.isclose(lr_std[i], rs[i], rel_tol=0.01)  # "its first step matches rsLoRA's"
        assert loss_lr[i] <= loss_rs[i], (r, loss_lr, loss_rs)  # "its loss is at least as low"
    assert loss_rs[-1] < loss_std[-1]  # "at the higher ranks it gets further"

    # Section 12: a short real run and the spectrum of its update
    assert results["train_steps"] >= 1
    assert math.isfinite(results["loss_first"]) and math.isfinite(results["loss_last"])
    assert results["loss_first"] > 0
    assert results["adapted_layers"] == 7 * config.num_hidden_layers
    r = results["rank"]
    assert 1 <= results["mean_energy_rank"] <= r
    assert 1 <= results["mean_entropy_rank"] <= r
    assert 1 <= results["mean_entropy_rank_random_b"] <= r
