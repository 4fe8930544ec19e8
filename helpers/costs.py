"""Back-of-the-envelope training costs: memory (and its ZeRO sharding), FLOPs, GPU-hours and money for full fine-tuning, LoRA and QLoRA."""

from __future__ import annotations

from typing import Any

from helpers.lora import DECODER_LINEARS, OUTPUT_LAYER, linear_shapes, lora_parameter_count

#: Bytes per element of the dtypes we estimate with.
DTYPE_BYTES: dict[str, float] = {"fp32": 4, "bf16": 2, "fp16": 2}

#: Optimizer states per TRAINABLE parameter: AdamW keeps two moments (m and v), SGD with momentum one.
#: Their bytes depend on the precision (see :data:`PRECISIONS`); 8-bit AdamW (bitsandbytes) keeps
#: both moments in 1 byte each whatever the precision.
OPTIMIZER_STATES: dict[str, int] = {"adamw": 2, "adamw_8bit": 2, "sgd_momentum": 1, "sgd": 0}

#: How training keeps the TRAINABLE parameters (``precision`` of :func:`training_memory`).
#:   "mixed" (the default, what people run): the optimizer holds fp32 master weights and fp32 states,
#:   the forward and backward run in 16 bit. DeepSpeed and FSDP keep a 16-bit working copy of the
#:   weights (2 B), 16-bit gradients (2 B) and, in the optimizer, the fp32 master copy plus the fp32
#:   AdamW moments (4 + 4 + 4 B): 16 bytes per parameter, the ZeRO paper's (2 + 2 + K) with K = 12.
#:   ``Trainer(bf16=True)`` on an fp32-loaded model stores fp32 weights (4 B), fp32 gradients (4 B) and
#:   the moments (8 B) instead: the same 16 B. LoRA adapters are fp32 (4 + 4 + 8 B).
#:   "pure": everything in ``dtype``, including the AdamW moments (``torch.optim.AdamW`` keeps them in
#:   the parameters' dtype): 8 bytes per parameter in bf16, with no fp32 copy. Cheaper, but small
#:   updates round away in bf16 weights; use it only knowingly (e.g. with stochastic rounding or
#:   Kahan summation).
PRECISIONS: tuple[str, ...] = ("mixed", "pure")

#: The ZeRO paper's K for mixed-precision Adam: fp32 master weights + momentum + variance = 12 bytes
#: per parameter (Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion
#: Parameter Models", section 3.1).
ZERO_K = 12

#: ZeRO stages (0 = plain DDP), what each GPU holds over N GPUs for Psi parameters, and the PyTorch FSDP
#: sharding strategy that holds the same (FSDP1 ``ShardingStrategy``; FSDP2: ``reshard_after_forward``
#: True = FULL_SHARD, False = SHARD_GRAD_OP). ZeRO-1 has no FSDP counterpart.
ZERO_STAGES: dict[str, dict[str, Any]] = {
    "DDP": {"stage": 0, "formula": "(2+2+K)Ψ", "fsdp": "NO_SHARD"},
    "ZeRO-1": {"stage": 1, "formula": "2Ψ + 2Ψ + KΨ/N", "fsdp": "-"},
    "ZeRO-2": {"stage": 2, "formula": "2Ψ + (2+K)Ψ/N", "fsdp": "SHARD_GRAD_OP"},
    "ZeRO-3": {"stage": 3, "formula": "(2+2+K)Ψ/N", "fsdp": "FULL_SHARD"},
}

#: NF4 storage per quantized weight: 4 bits + double-quantized absmax (8 bits per block of 64,
#: plus one fp32 per 256 blocks) = 4.127 bits (Dettmers et al. 2023, QLoRA, section 3).
NF4_BYTES = (4 + 8 / 64 + 32 / (64 * 256)) / 8

GiB = 2**30

#: Accelerators, the one table of hardware facts: memory (GiB as sold, i.e. GB ~ GiB here), peak DENSE
#: 16-bit tensor throughput (FLOP/s, datasheet, without 2:4 sparsity) for :func:`gpu_hours`, an illustrative
#: on-demand price per GPU-hour in USD (late-2025 list prices of smaller clouds; hyperscalers charge 1.5-3x
#: more; prices are assumptions: pass your own to :func:`dollars`), and the 16-bit format each trains in:
#: bf16 from Ampere on (A10G, A100), fp16 on the T4 (Turing), which has fp16 tensor cores but no bf16 (its
#: peak is fp16's; fp16 has the same 2 bytes, so only the loss scaler differs).
GPUS: dict[str, dict[str, Any]] = {
    "T4": {"memory_gb": 16, "peak_flops": 65e12, "usd_per_hour": 0.35, "dtype": "fp16"},
    "A10G": {"memory_gb": 24, "peak_flops": 70e12, "usd_per_hour": 1.00, "dtype": "bf16"},
    "L4": {"memory_gb": 24, "peak_flops": 121e12, "usd_per_hour": 0.70, "dtype": "bf16"},
    "A100-80GB": {"memory_gb": 80, "peak_flops": 312e12, "usd_per_hour": 1.80, "dtype": "bf16"},
    "H100-80GB": {"memory_gb": 80, "peak_flops": 989e12, "usd_per_hour": 3.00, "dtype": "bf16"},
    "H200": {"memory_gb": 141, "peak_flops": 989e12, "usd_per_hour": 3.80, "dtype": "bf16"},
}

#: The 16-bit format each GPU trains in (a view of :data:`GPUS`).
GPU_DTYPE: dict[str, str] = {name: spec["dtype"] for name, spec in GPUS.items()}

#: Where a training run might live: ``(device, count)``, a laptop or :data:`GPUS` entries. The course trains in
#: fp32 on a laptop CPU (bf16 autocast only where the CPU has native bf16). "8xH100" assumes the states are
#: fully sharded over the 8 GPUs (FSDP / ZeRO-3) and the batch is split, so the total is 8 x 80 GB.
_PLACES: dict[str, tuple[dict[str, Any], int]] = {
    "laptop CPU RAM": ({"memory_gb": 16, "dtype": "fp32"}, 1),
    "T4": (GPUS["T4"], 1),
    "A100": (GPUS["A100-80GB"], 1),
    "8xH100": (GPUS["H100-80GB"], 8),
}
_PLACE_LABELS = {name: f"{name} ({n * spec['memory_gb']} GB)" for name, (spec, n) in _PLACES.items()}

#: Usable memory in bytes by place, labelled with its size, small to large: ``{"T4 (16 GB)": 16e9, ...}``.
HARDWARE: dict[str, float] = {
    _PLACE_LABELS[name]: n * spec["memory_gb"] * 1e9 for name, (spec, n) in _PLACES.items()
}

#: The dtype to plan each :data:`HARDWARE` entry in (fp32 on the laptop, else its GPU's).
HARDWARE_DTYPE: dict[str, str] = {_PLACE_LABELS[name]: spec["dtype"] for name, (spec, _) in _PLACES.items()}

#: Fraction of a device's memory we let the estimate use: CUDA context (~0.5 GB), the allocator's
#: fragmentation and, on a laptop, the operating system and browser need the rest.
HEADROOM = 0.85


def _dims(config: Any) -> dict[str, int]:
    """Widths the estimates need, read off :func:`helpers.lora.linear_shapes` (Llama/Qwen-style decoder)."""
    shapes = linear_shapes(config)
    cfg = config.get_text_config() if hasattr(config, "get_text_config") else config
    h, q = shapes["q_proj"]
    return {
        "h": h,
        "q": q,
        "i": shapes["gate_proj"][1],
        "layers": cfg.num_hidden_layers,
        "vocab": shapes[OUTPUT_LAYER][1],
    }


def block_linear_parameters(config: Any) -> int:
    """Weights of the transformer blocks' linear layers (attention and MLP projections, biases excluded).

    These are what QLoRA stores in NF4: bitsandbytes quantizes the ``nn.Linear`` weights inside the
    blocks, while the embeddings, the output head (transformers keeps ``lm_head`` unquantized), the
    norms and the biases stay in 16 bit.

    Args:
        config: a transformers config (Llama/Qwen-style decoder).

    Returns:
        ``layers * (h*q + 2*h*kv + q*h + 3*h*i)``: in x out over :data:`helpers.lora.DECODER_LINEARS`.
    """
    shapes = linear_shapes(config)
    return _dims(config)["layers"] * sum(shapes[t][0] * shapes[t][1] for t in DECODER_LINEARS)


def base_weight_bytes(
    config: Any, *, nf4: bool = False, dtype: str = "bf16", n_params: int | None = None
) -> float:
    """Bytes of the model's own weights (no adapters): all in ``dtype``, or QLoRA's NF4 block linears.

    Args:
        config: a transformers config.
        nf4: store :func:`block_linear_parameters` in NF4 (:data:`NF4_BYTES` each) as QLoRA does;
            everything else (embeddings, head, norms, biases) stays in ``dtype``.
        dtype: "bf16", "fp16" or "fp32".
        n_params: the exact parameter count if known (default: computed on the meta device).

    Returns:
        Bytes. ``base_weight_bytes(c) / base_weight_bytes(c, nf4=True)`` is how much QLoRA shrinks the
        weights: below ``2 / NF4_BYTES`` (3.9x) because the 16-bit rest does not shrink.
    """
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype={dtype!r}; use one of {sorted(DTYPE_BYTES)}.")
    if n_params is None:
        from helpers.models import count_parameters

        n_params = count_parameters(config)
    b = DTYPE_BYTES[dtype]
    if not nf4:
        return float(n_params * b)
    linear = block_linear_parameters(config)
    return float((n_params - linear) * b + linear * NF4_BYTES)


def activation_elements_per_token(config: Any, *, gradient_checkpointing: bool = False) -> dict[str, int]:
    """Elements autograd keeps per token between forward and backward, split into blocks and head.

    Assumptions (a Llama/Qwen block with SDPA attention, no dropout):
      * per block: each RMSNorm keeps ~3 hidden-sized tensors (its input, the normalized value and
        the output the next matmuls need) -> 6h for two norms; attention keeps q, k and v as SDPA
        sees them (k and v repeated to all query heads, as transformers does whenever a padding mask
        is present) and its output twice (SDPA's output and the contiguous copy ``o_proj`` reads)
        -> 5q; the SwiGLU MLP keeps gate, SiLU(gate), up and their product -> 4i;
      * SDPA uses a fused kernel, so no (seq x seq) attention matrix is stored (eager attention would
        add heads x seq per token per layer);
      * the head: the logits (vocab, compute dtype) plus three fp32 vocab-sized buffers alive around
        the loss (the fp32 log-softmax output and two gradients during its backward). These are
        counted in the head's own key because their dtype differs.
      * gradient checkpointing keeps only each block's input (h) and recomputes one block at a time.

    Args:
        config: a transformers config.
        gradient_checkpointing: whether blocks are recomputed in backward.

    Returns:
        ``{"blocks": elements in compute dtype, "logits": elements in compute dtype,
        "loss_fp32": fp32 elements}`` per token.
    """
    s = _dims(config)
    per_block = 6 * s["h"] + 5 * s["q"] + 4 * s["i"]
    blocks = s["layers"] * s["h"] + per_block if gradient_checkpointing else s["layers"] * per_block
    return {"blocks": blocks + 3 * s["h"], "logits": s["vocab"], "loss_fp32": 3 * s["vocab"]}


def training_memory(
    config: Any,
    method: str,
    *,
    batch_size: int,
    seq_len: int,
    lora_rank: int = 16,
    dtype: str = "bf16",
    precision: str = "mixed",
    optimizer: str = "adamw",
    gradient_checkpointing: bool = False,
    n_params: int | None = None,
) -> dict[str, float]:
    """Estimate the memory one training step needs, split into weights, gradients, optimizer and activations.

    The defaults model what people run: AdamW in bf16 mixed precision (``Trainer(bf16=True)``, or
    DeepSpeed / FSDP with bf16), i.e. 16 bytes per trainable parameter before activations.

    What it covers and assumes (all in bytes):
      * "full", ``precision="mixed"`` (:data:`PRECISIONS`): laid out as DeepSpeed and the ZeRO paper
        count it: weights = the 16-bit working copy (2 B/param), gradients 2 B, optimizer = fp32
        master weights + the fp32 states (4 + 4 x :data:`OPTIMIZER_STATES`; AdamW: 12 B). Total 16 B
        per parameter, as for ``Trainer(bf16=True)`` on fp32 weights (4 + 4 + 8 B). With
        ``dtype="fp32"`` there is no separate master copy: 4 + 4 + 8 B. ``optimizer="adamw_8bit"``:
        the two moments take 1 byte each (the fp32 master copy stays): 10 B per parameter.
      * "full", ``precision="pure"``: weights, gradients and states all in ``dtype`` (bf16 AdamW:
        2 + 2 + 4 = 8 B per parameter, no fp32 copy); with 8-bit AdamW 2 + 2 + 2 B.
      * "lora" / "qlora": the frozen base stays in ``dtype`` (16 bit); for "qlora" its block linears
        are NF4 (:data:`NF4_BYTES` per weight, see :func:`base_weight_bytes`). Only the adapters train:
        with "mixed" they are fp32 (peft up-casts adapters of a 16-bit model by default) and carry fp32
        gradients and fp32 states (4 + 4 + 8 B per adapter parameter); with "pure" they are in
        ``dtype``. The frozen base has no gradients and no optimizer states.
      * gradients are counted all at once, an upper bound: during backward some activations are
        already freed when the last gradients appear.
      * activations: :func:`activation_elements_per_token` x ``batch_size * seq_len`` tokens, in the
        compute dtype (QLoRA computes in 16 bit even when ``dtype="fp32"``).
      * NOT covered: the framework itself (Python, torch and CUDA libraries and context, ~0.3-1 GB),
        allocator caching and fragmentation, autocast's cached 16-bit copies of fp32 weights (up to
        2 B/param during a ``Trainer(bf16=True)`` step), data loading, and evaluation or generation
        buffers. :data:`HEADROOM` keeps room for the first ones when deciding what fits. Note also that
        peft's ``prepare_model_for_kbit_training`` (used by ``helpers.train`` for QLoRA) up-casts the
        unquantized weights (embeddings, head, norms) to fp32; this estimate keeps them 16-bit.

    Args:
        config: a transformers config (``helpers.models.architecture(name)``).
        method: "full", "lora" or "qlora".
        batch_size: sequences per step (per device).
        seq_len: tokens per sequence (padded length).
        lora_rank: LoRA rank (ignored for "full").
        dtype: "bf16", "fp16" or "fp32": the weights' working copy and the compute (see
            :data:`GPU_DTYPE`: a T4 trains in fp16).
        precision: "mixed" (fp32 master weights and states, the default) or "pure" (all in ``dtype``).
        optimizer: a key of :data:`OPTIMIZER_STATES`.
        gradient_checkpointing: recompute blocks in backward.
        n_params: the exact parameter count if known (default: computed on the meta device).

    Returns:
        ``{"weights", "gradients", "optimizer", "activations", "total"}`` in bytes, plus
        ``"params"`` and ``"trainable_params"`` (counts).
    """
    if method not in {"full", "lora", "qlora"}:
        raise ValueError(f"method={method!r}; use 'full', 'lora' or 'qlora'.")
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype={dtype!r}; use one of {sorted(DTYPE_BYTES)}.")
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}; use one of {list(PRECISIONS)}.")
    if optimizer not in OPTIMIZER_STATES:
        raise ValueError(f"optimizer={optimizer!r}; use one of {sorted(OPTIMIZER_STATES)}.")
    if batch_size < 1 or seq_len < 1:
        raise ValueError(f"batch_size={batch_size} and seq_len={seq_len} must be >= 1.")
    if n_params is None:
        from helpers.models import count_parameters

        n_params = count_parameters(config)
    b = DTYPE_BYTES[dtype]
    s = _dims(config)
    mixed = precision == "mixed"
    if method == "full":
        trainable = n_params
        weight_bytes = b  # the working copy the forward pass reads
        master_bytes = 4 if mixed and b < 4 else 0  # fp32 master copy, held by the optimizer
        state_bytes = 4 if mixed else b
        weights = trainable * weight_bytes
    else:
        trainable = lora_parameter_count(config, "all-linear", lora_rank)
        weight_bytes = 4 if mixed else b  # peft keeps adapters in fp32 by default
        master_bytes = 0
        state_bytes = 4 if mixed else b
        weights = base_weight_bytes(config, nf4=method == "qlora", dtype=dtype, n_params=n_params)
        weights += trainable * weight_bytes
    if optimizer == "adamw_8bit":
        state_bytes = 1
    grad_bytes = weight_bytes
    tokens = batch_size * seq_len
    act = activation_elements_per_token(config, gradient_checkpointing=gradient_checkpointing)
    compute_bytes = 2 if method == "qlora" and dtype == "fp32" else b  # QLoRA computes in 16 bit
    activations = tokens * ((act["blocks"] + act["logits"]) * compute_bytes + act["loss_fp32"] * 4)
    if method != "full":  # LoRA keeps x @ A (rank values) for every adapted projection
        activations += tokens * s["layers"] * len(DECODER_LINEARS) * lora_rank * 4
    out = {
        "weights": float(weights),
        "gradients": float(trainable * grad_bytes),
        "optimizer": float(trainable * (master_bytes + OPTIMIZER_STATES[optimizer] * state_bytes)),
        "activations": float(activations),
    }
    out["total"] = sum(out.values())
    out["params"] = n_params
    out["trainable_params"] = trainable
    return out


def zero_model_states(n_params: float, stage: int, n_gpus: int, *, k: float = ZERO_K) -> dict[str, float]:
    """Per-GPU bytes of the model states of full mixed-precision training under ZeRO (Rajbhandari et al. 2020).

    With Psi parameters, 16-bit weights (2 Psi), 16-bit gradients (2 Psi) and K Psi of optimizer states
    (K = 12 for mixed-precision Adam: fp32 master weights, momentum, variance), each GPU of ``n_gpus``
    holds (:data:`ZERO_STAGES`):

      * stage 0, plain DDP (FSDP ``NO_SHARD``): (2 + 2 + K) Psi;
      * stage 1 (optimizer states sharded): 2 Psi + 2 Psi + K Psi / N;
      * stage 2 (+ gradients, FSDP ``SHARD_GRAD_OP``): 2 Psi + (2 + K) Psi / N;
      * stage 3 (+ weights, FSDP ``FULL_SHARD``): (2 + 2 + K) Psi / N.

    Activations are not model states: every GPU keeps those of its own micro-batch (add
    ``training_memory(...)["activations"]`` at the per-GPU batch). Also not counted: ZeRO-3's
    gathered layer being computed and the communication buffers.

    Args:
        n_params: Psi, the number of trainable parameters.
        stage: 0 (DDP), 1, 2 or 3.
        n_gpus: N, the data-parallel GPUs the states are sharded over.
        k: optimizer bytes per parameter (12 for mixed-precision AdamW, :data:`ZERO_K`).

    Returns:
        ``{"weights", "gradients", "optimizer"}`` in bytes per GPU; their sum is the per-GPU total.
    """
    if stage not in (0, 1, 2, 3):
        raise ValueError(f"stage={stage!r}; use 0 (DDP), 1, 2 or 3.")
    if n_gpus < 1:
        raise ValueError(f"n_gpus={n_gpus} must be >= 1.")
    weights, gradients, optimizer = 2 * n_params, 2 * n_params, k * n_params
    return {
        "weights": float(weights / n_gpus if stage >= 3 else weights),
        "gradients": float(gradients / n_gpus if stage >= 2 else gradients),
        "optimizer": float(optimizer / n_gpus if stage >= 1 else optimizer),
    }


def fits(
    total_bytes: float, hardware: dict[str, float] | None = None, *, headroom: float = HEADROOM
) -> dict[str, bool]:
    """Which hardware can hold a training step of ``total_bytes``.

    Args:
        total_bytes: e.g. ``training_memory(...)["total"]``.
        hardware: ``{label: usable bytes}``; default :data:`HARDWARE`.
        headroom: the fraction of each device's memory the estimate may use.

    Returns:
        ``{label: True if total_bytes <= headroom * capacity}``.
    """
    hardware = HARDWARE if hardware is None else hardware
    return {name: total_bytes <= headroom * cap for name, cap in hardware.items()}


def training_flops(
    n_params: float, n_tokens: float, method: str = "full", *, gradient_checkpointing: bool = False
) -> float:
    """Training FLOPs with the standard ``6 N D`` rule (Kaplan et al. 2020), plus recomputation.

    Assumptions: a dense decoder where the matmuls dominate; forward = 2 N FLOPs per token, backward
    = 4 N (gradients w.r.t. activations AND w.r.t. weights). Attention's ``seq x seq`` FLOPs are left
    out (they add ~12 L h s per token: < 10% at 4K context for 7B+ models).

    For LoRA/QLoRA the frozen weights still carry the forward (2 N) and the activation gradients
    (2 N), but not the weight gradients: ``4 N D`` (the adapters' own FLOPs are negligible). QLoRA's
    NF4 dequantization is memory-bound work that this count does not see (it shows up as lower MFU).

    Gradient checkpointing runs every block's forward a second time during backward: + 2 N per token,
    so 8 N for full fine-tuning and 6 N for LoRA/QLoRA. These are the FLOPs the GPU executes, so the
    utilization to pair them with in :func:`gpu_hours` is the hardware FLOPs utilization (PaLM's HFU);
    without checkpointing it equals the MFU.

    Args:
        n_params: parameters N (all of them, frozen or not).
        n_tokens: tokens processed D (examples x tokens per example x epochs).
        method: "full", "lora" or "qlora".
        gradient_checkpointing: whether blocks are recomputed in backward.

    Returns:
        FLOPs.
    """
    per_token = {"full": 6, "lora": 4, "qlora": 4}
    if method not in per_token:
        raise ValueError(f"method={method!r}; use 'full', 'lora' or 'qlora'.")
    recompute = 2 if gradient_checkpointing else 0
    return (per_token[method] + recompute) * n_params * n_tokens


def gpu_hours(flops: float, gpu: str = "A100-80GB", mfu: float = 0.4) -> float:
    """GPU-hours to execute ``flops`` at a model-FLOPs utilization ``mfu`` of the GPU's dense 16-bit peak.

    MFU (Chowdhery et al. 2022, PaLM) is useful model FLOPs / peak FLOPs. Well-tuned large runs reach
    0.35-0.55 (PaLM 46%, Llama 3 405B 38-43%); small fine-tuning jobs with short padded batches often
    reach only 0.1-0.3. 0.4 is our stated default for a large, well-engineered pretraining run.

    ``flops`` and ``mfu`` must count the same work: with the recomputation of gradient checkpointing
    included in ``flops`` (:func:`training_flops`), ``mfu`` is the utilization on executed FLOPs.

    Args:
        flops: e.g. :func:`training_flops`.
        gpu: a key of :data:`GPUS`.
        mfu: utilization in (0, 1].

    Returns:
        GPU-hours.
    """
    if gpu not in GPUS:
        raise ValueError(f"Unknown gpu {gpu!r}; choose from {sorted(GPUS)} or add it to GPUS.")
    if not 0 < mfu <= 1:
        raise ValueError(f"mfu={mfu} must be in (0, 1]; typical values are 0.2-0.5.")
    return flops / (GPUS[gpu]["peak_flops"] * mfu) / 3600


def implied_mfu(flops: float, hours: float, gpu: str = "A100-80GB") -> float:
    """The MFU a published GPU-hour figure implies: ``flops / (hours * 3600 * peak)``.

    Args:
        flops: the work done (e.g. ``training_flops(N, D)``).
        hours: the published GPU-hours.
        gpu: a key of :data:`GPUS`.

    Returns:
        The utilization, between 0 and 1 for a plausible report.
    """
    return flops / (hours * 3600 * GPUS[gpu]["peak_flops"])


def dollars(gpu_hours: float, price_per_hour: float) -> float:
    """The bill: ``gpu_hours * price_per_hour`` (on-demand, no discounts, storage or engineers' time).

    Args:
        gpu_hours: GPU-hours, e.g. :func:`gpu_hours`.
        price_per_hour: USD per GPU-hour (see :data:`GPUS` for illustrative prices).

    Returns:
        USD.
    """
    if gpu_hours < 0 or price_per_hour < 0:
        raise ValueError(f"gpu_hours={gpu_hours} and price_per_hour={price_per_hour} must be >= 0.")
    return gpu_hours * price_per_hour
