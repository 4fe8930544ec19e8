"""helpers.costs: memory components, ZeRO sharding, FLOPs, GPU-hours against Meta's Llama-2 report, and a measured CPU peak."""

from __future__ import annotations

import pytest
import torch

from helpers import costs, lora, models
from tools.nb_checks.nb_02_choosing_a_model import LLAMA2_7B_GPU_HOURS, LLAMA2_70B_GPU_HOURS

LLAMA2_TOKENS = 2.0e12
#: The MFU we STATE for a large, well-engineered A100 pretraining run (costs.gpu_hours' default):
#: PaLM reported 46%, Llama 3 405B 38-43%. It is an assumption, not a number fitted to Meta's figure.
STATED_MFU = 0.4


def test_llama2_70b_pretraining_matches_metas_gpu_hours() -> None:
    n = models.count_parameters("meta-llama/Llama-2-70b-hf")
    flops = costs.training_flops(n, LLAMA2_TOKENS)
    estimate = costs.gpu_hours(flops, "A100-80GB", mfu=STATED_MFU)
    assert abs(estimate / LLAMA2_70B_GPU_HOURS - 1) <= 0.15, (
        f"{estimate:,.0f} h vs {LLAMA2_70B_GPU_HOURS:,} h"
    )
    implied = costs.implied_mfu(flops, LLAMA2_70B_GPU_HOURS, "A100-80GB")
    assert 0.35 <= implied <= 0.5, implied  # what Meta's number means, in the range large runs report


#: Llama-2-7B's published parameter count ("7B"), from the package's one table.
LLAMA2_7B_PARAMS = models.ARCHITECTURES["meta-llama/Llama-2-7b-hf"]["published_params"]


def test_llama2_7b_pretraining_implied_mfu() -> None:
    # 6 x 6,738,415,616 x 2.0e12 = 8.086e22 FLOPs; / (184,320 h x 3600 s x 312e12 FLOP/s) = 0.3906
    flops = costs.training_flops(LLAMA2_7B_PARAMS, LLAMA2_TOKENS)
    assert costs.implied_mfu(flops, LLAMA2_7B_GPU_HOURS, "A100-80GB") == pytest.approx(0.3906, abs=1e-4)


def test_flops_rule() -> None:
    assert costs.training_flops(1e9, 1e9) == 6e18
    assert costs.training_flops(1e9, 1e9, "lora") == 4e18
    h100 = costs.gpu_hours(1e21, "H100-80GB", 0.5)
    a100 = costs.gpu_hours(1e21, "A100-80GB", 0.5)
    assert a100 / h100 == pytest.approx(989 / 312)
    assert costs.dollars(10, 2.5) == 25
    assert {"T4", "A10G", "L4", "A100-80GB", "H100-80GB", "H200"} <= set(costs.GPUS)
    with pytest.raises(ValueError, match="V100"):
        costs.gpu_hours(1e20, "V100")
    with pytest.raises(ValueError, match="mfu=1.5"):
        costs.gpu_hours(1e20, mfu=1.5)


def test_checkpointing_adds_a_recomputed_forward() -> None:
    """Checkpointing re-runs the forward (2N per token): full 6N -> 8N, LoRA/QLoRA 4N -> 6N."""
    n, d = LLAMA2_7B_PARAMS, 1e9
    # 8 x 6,738,415,616 x 1e9 = 5.3907324928e19 FLOPs
    assert costs.training_flops(n, d, "full", gradient_checkpointing=True) == 5.3907324928e19
    # 6 x 6,738,415,616 x 1e9 = 4.0430493696e19 (= full without checkpointing)
    assert costs.training_flops(n, d, "lora", gradient_checkpointing=True) == 4.0430493696e19
    assert costs.training_flops(n, d, "qlora", gradient_checkpointing=True) == 4.0430493696e19
    assert costs.training_flops(n, d, "full") == 4.0430493696e19


def test_llama2_7b_full_finetuning_is_16_bytes_per_parameter_by_default() -> None:
    """The default is bf16 mixed-precision AdamW: 2 (bf16 weights) + 2 (bf16 grads) + 12 (fp32 master, m, v)."""
    config = models.architecture("meta-llama/Llama-2-7b-hf")
    assert models.count_parameters(config) == LLAMA2_7B_PARAMS
    m = costs.training_memory(config, "full", batch_size=1, seq_len=128)
    # 16 B x 6,738,415,616 = 107,814,649,856 B = 107.8 GB before activations
    assert m["weights"] + m["gradients"] + m["optimizer"] == 107_814_649_856
    # the ZeRO paper's layout: 2 x 6,738,415,616 = 13,476,831,232; 12 x 6,738,415,616 = 80,860,987,392
    assert (m["weights"], m["gradients"], m["optimizer"]) == (13_476_831_232, 13_476_831_232, 80_860_987_392)
    assert m["total"] - m["activations"] == pytest.approx(107.8e9, rel=1e-3)
    assert not costs.fits(m["total"])["A100 (80 GB)"]  # full fine-tuning a 7B model does NOT fit one A100
    # fp32 training holds the same 16 B: 4 (weights) + 4 (grads) + 8 (two fp32 moments)
    fp32 = costs.training_memory(config, "full", batch_size=1, seq_len=128, dtype="fp32")
    assert (fp32["weights"], fp32["gradients"], fp32["optimizer"]) == (
        26_953_662_464,  # 4 x 6,738,415,616
        26_953_662_464,
        53_907_324_928,  # 8 x 6,738,415,616
    )


def test_pure_bf16_and_8bit_adam_are_explicit_options() -> None:
    config = models.architecture("meta-llama/Llama-2-7b-hf")
    kw = {"batch_size": 1, "seq_len": 128}
    pure = costs.training_memory(config, "full", precision="pure", **kw)
    # pure bf16: 2 + 2 + 2 x 2 = 8 B x 6,738,415,616 = 53,907,324,928 B (no fp32 copy anywhere)
    assert pure["weights"] + pure["gradients"] + pure["optimizer"] == 53_907_324_928
    eight = costs.training_memory(config, "full", optimizer="adamw_8bit", **kw)
    # mixed + 8-bit AdamW: 2 + 2 + 4 (fp32 master) + 2 x 1 = 10 B x 6,738,415,616 = 67,384,156,160 B
    assert eight["weights"] + eight["gradients"] + eight["optimizer"] == 67_384_156_160
    with pytest.raises(ValueError, match="'fp8'"):
        costs.training_memory(config, "full", precision="fp8", **kw)


def test_lora_keeps_the_base_16_bit_and_only_adapters_in_fp32() -> None:
    config = models.architecture("meta-llama/Llama-2-7b-hf")
    # r=16 on all 7 linears: 32 layers x 16 x (4 x (4096 + 4096) + 3 x (4096 + 11008)) = 39,976,960
    assert lora.lora_parameter_count(config, "all-linear", 16) == 39_976_960
    m = costs.training_memory(config, "lora", batch_size=1, seq_len=128)
    # frozen base in bf16 (2 B x 6,738,415,616) + fp32 adapters (4 B x 39,976,960)
    assert m["weights"] == 13_636_739_072
    # fp32 gradients (4 x 39,976,960) and two fp32 AdamW moments (8 x 39,976,960), for the adapters only
    assert (m["gradients"], m["optimizer"]) == (159_907_840, 319_815_680)
    q = costs.training_memory(config, "qlora", batch_size=1, seq_len=128)
    linear = costs.block_linear_parameters(config)  # 32 x (4 x 4096^2 + 3 x 4096 x 11008)
    assert linear == 6_476_005_376
    assert q["weights"] == pytest.approx(
        (LLAMA2_7B_PARAMS - linear) * 2 + linear * costs.NF4_BYTES + 4 * 39_976_960
    )
    assert (q["gradients"], q["optimizer"]) == (m["gradients"], m["optimizer"])


def test_qlora_shrinks_7b_weights_less_than_four_fold() -> None:
    """Embeddings, head and norms stay 16-bit, so the factor is below 2 / NF4_BYTES = 3.88."""
    qwen = models.architecture("Qwen/Qwen2.5-7B-Instruct")
    factor = costs.base_weight_bytes(qwen) / costs.base_weight_bytes(qwen, nf4=True)
    assert factor == pytest.approx(2.746, abs=1e-3)  # its 152K vocabulary: 1.09B embedding + head parameters
    llama = models.architecture("meta-llama/Llama-2-7b-hf")
    assert costs.base_weight_bytes(llama) / costs.base_weight_bytes(llama, nf4=True) == pytest.approx(
        3.486, abs=1e-3
    )
    assert costs.GPU_DTYPE["T4"] == "fp16" and costs.HARDWARE_DTYPE["T4 (16 GB)"] == "fp16"
    assert costs.HARDWARE_DTYPE["laptop CPU RAM (16 GB)"] == "fp32"


def test_hardware_comes_from_the_gpu_table_small_to_large() -> None:
    """Notebook 02's exercise 3 reads HARDWARE small to large; its GPU sizes are the GPUS table's."""
    assert list(costs.HARDWARE.values()) == sorted(costs.HARDWARE.values())
    assert costs.HARDWARE["A100 (80 GB)"] == costs.GPUS["A100-80GB"]["memory_gb"] * 1e9
    assert costs.HARDWARE["8xH100 (640 GB)"] == 8 * costs.GPUS["H100-80GB"]["memory_gb"] * 1e9


def test_zero_per_gpu_llama2_7b_on_8_gpus() -> None:
    """(2 + 2 + K) Psi with K = 12 (ZeRO paper, section 5), Psi = 6,738,415,616, N = 8."""
    per_gpu = {s: sum(costs.zero_model_states(LLAMA2_7B_PARAMS, s, 8).values()) for s in range(4)}
    assert per_gpu == {
        0: 107_814_649_856,  # DDP: 16 Psi
        1: 37_061_285_888,  # ZeRO-1: 2 Psi + 2 Psi + 12 Psi / 8 = 5.5 Psi
        2: 25_269_058_560,  # ZeRO-2: 2 Psi + 14 Psi / 8 = 3.75 Psi
        3: 13_476_831_232,  # ZeRO-3 / FSDP FULL_SHARD: 16 Psi / 8 = 2 Psi
    }
    # DDP holds exactly what training_memory's default full step holds before activations
    m = costs.training_memory(
        models.architecture("meta-llama/Llama-2-7b-hf"), "full", batch_size=1, seq_len=8
    )
    assert per_gpu[0] == m["weights"] + m["gradients"] + m["optimizer"]
    assert costs.ZERO_STAGES["ZeRO-3"]["fsdp"] == "FULL_SHARD"
    assert costs.ZERO_STAGES["ZeRO-2"]["fsdp"] == "SHARD_GRAD_OP"
    with pytest.raises(ValueError, match="stage=4"):
        costs.zero_model_states(1e9, 4, 8)


def test_zero_paper_figure_1() -> None:
    """The ZeRO paper's Figure 1: Psi = 7.5B, N_d = 64, K = 12 -> 120, 31.4, 16.6 and 1.88 GB per GPU."""
    published = {0: 120e9, 1: 31.4e9, 2: 16.6e9, 3: 1.88e9}
    for stage, gb in published.items():
        assert sum(costs.zero_model_states(7.5e9, stage, 64).values()) == pytest.approx(gb, rel=3e-3), stage


def test_full_finetuning_components_are_exact() -> None:
    config = models.architecture("Qwen/Qwen2.5-7B-Instruct")
    n = models.count_parameters(config)
    fp32 = costs.training_memory(config, "full", batch_size=1, seq_len=128, dtype="fp32")
    assert (fp32["weights"], fp32["gradients"], fp32["optimizer"]) == (4 * n, 4 * n, 8 * n)
    bf16 = costs.training_memory(config, "full", batch_size=1, seq_len=128, dtype="bf16")
    assert (bf16["weights"], bf16["gradients"], bf16["optimizer"]) == (2 * n, 2 * n, 12 * n)
    pure = costs.training_memory(config, "full", batch_size=1, seq_len=128, precision="pure")
    assert (pure["weights"], pure["gradients"], pure["optimizer"]) == (2 * n, 2 * n, 4 * n)


def test_lora_count_matches_peft() -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    config = models.architecture("Qwen/Qwen3-0.6B")
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    peft_model = get_peft_model(model, LoraConfig(r=8, target_modules=list(lora.DECODER_LINEARS)))
    assert models.count_parameters(peft_model, trainable_only=True) == lora.lora_parameter_count(
        config, "all-linear", 8
    )


def test_orderings_and_scaling() -> None:
    config = models.architecture("Qwen/Qwen2.5-7B-Instruct")
    kw = {"batch_size": 4, "seq_len": 512}
    full, lora, qlora = (costs.training_memory(config, m, **kw)["total"] for m in ("full", "lora", "qlora"))
    assert qlora < lora < full
    act = costs.training_memory(config, "lora", **kw)["activations"]
    act2 = costs.training_memory(config, "lora", batch_size=8, seq_len=512)["activations"]
    assert act2 == pytest.approx(2 * act)
    ckpt = costs.training_memory(config, "lora", gradient_checkpointing=True, **kw)["activations"]
    assert ckpt < act / 3
    fits = costs.fits(
        costs.training_memory(config, "qlora", batch_size=1, seq_len=512, gradient_checkpointing=True)[
            "total"
        ]
    )
    assert fits["T4 (16 GB)"] and not costs.fits(full)["A100 (80 GB)"]


def test_bad_arguments_name_the_value() -> None:
    config = models.architecture(models.DEFAULT_MODEL)
    with pytest.raises(ValueError, match="'dora'"):
        costs.training_memory(config, "dora", batch_size=1, seq_len=8)
    with pytest.raises(ValueError, match="'int3'"):
        costs.training_memory(config, "lora", batch_size=1, seq_len=8, dtype="int3")


@pytest.mark.slow
@pytest.mark.parametrize("method", ["full"])  # LoRA: notebook 02's smoke run measures it (tools/nb_checks)
def test_estimate_matches_measured_cpu_peak(method: str) -> None:
    """fp32 on CPU, batch 2 x 128 tokens: estimate within +-25% of the measured peak RSS increase."""
    from helpers import finetune

    config = models.architecture(models.DEFAULT_MODEL)
    ids = torch.randint(0, config.vocab_size, (2, 128), generator=torch.Generator().manual_seed(0))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
    measured = finetune.measure_train_steps(method, batch, steps=2)["peak_over_framework_mb"] * 2**20
    estimate = costs.training_memory(config, method, batch_size=2, seq_len=128, dtype="fp32")["total"]
    assert abs(estimate / measured - 1) <= 0.25, (
        f"estimate {estimate / 2**20:.0f} MiB, measured {measured / 2**20:.0f} MiB"
    )


def test_memory_planner_runs_headless() -> None:
    """The widget builds, redraws on a change (Agg backend) and agrees with plan_memory."""
    from helpers import widgets

    planner = widgets.memory_planner("Qwen/Qwen2.5-0.5B-Instruct")
    method = next(c for c in planner.children if getattr(c, "description", "") == "method")
    method.value = "full"  # triggers a redraw; an exception here fails the test
    plan = widgets.plan_memory("Qwen/Qwen2.5-0.5B-Instruct", "full")
    n = models.ARCHITECTURES["Qwen/Qwen2.5-0.5B-Instruct"]["published_params"]
    assert plan["memory"]["trainable_params"] == n
    assert plan["fits"]["8xH100 (640 GB)"]
    states = sum(plan["memory"][k] for k in ("weights", "gradients", "optimizer"))
    assert states == 16 * n  # the planner's default is mixed precision too
    pure = widgets.plan_memory("Qwen/Qwen2.5-0.5B-Instruct", "full", precision="pure")["memory"]
    assert sum(pure[k] for k in ("weights", "gradients", "optimizer")) == 8 * n


@pytest.mark.parametrize("name", ["Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-2-7b-hf", "Qwen/Qwen3-0.6B"])
def test_notebook_02_memory_cell_agrees_with_training_memory(name: str) -> None:
    """Notebook 02 writes the bf16 mixed-precision memory formula out; costs.training_memory is its tested copy
    with more options: every part agrees, for full, LoRA and QLoRA, with and without checkpointing."""
    from tests.cells import run_cell

    lesson = run_cell("02_choosing_a_model.ipynb", "step_memory")["step_memory"]
    config, n = models.architecture(name), models.count_parameters(name)
    for method in ("full", "lora", "qlora"):
        for ckpt in (False, True):
            kw = {"batch_size": 2, "seq_len": 384, "n_params": n}
            mine = lesson(config, method, checkpointing=ckpt, **kw)
            theirs = costs.training_memory(config, method, gradient_checkpointing=ckpt, **kw)
            for part in ("weights", "gradients", "optimizer", "activations", "total"):
                assert mine[part] == pytest.approx(theirs[part], rel=1e-12), (name, method, ckpt, part)
