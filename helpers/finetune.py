"""Training plumbing: load a model in train-ready form, rebuild a missing adapter, and measure a few training steps in a
fresh process (notebook 04 section 6). The training run itself is :mod:`helpers.train`."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from helpers import env
from helpers.adapters import adapter_is_complete  # notebooks 04-06 call it as finetune.adapter_is_complete
from helpers.memory import peak_rss_mb, release_freed_memory, reset_peak_rss, rss_mb, run_fresh_process  # noqa: F401 (04 and bench call them here)
from helpers.models import DEFAULT_MODEL, load_model


def load_model_for_training(
    name: str, *, attn_implementation: str | None = None, load_in_4bit: bool = False
) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` in train-ready form.

    Args:
        name: a model name for :func:`helpers.models.load_model` (a hub id or a local folder).
        attn_implementation: passed to ``from_pretrained`` when set.
        load_in_4bit: QLoRA loading (NF4; bf16 compute on a GPU, fp32 on a CPU) with bitsandbytes.

    Returns:
        ``(model, tokenizer)``: fp32 weights on CPU (bf16 on a bf16 GPU), KV cache off.
    """
    kwargs: dict[str, Any] = {}
    if attn_implementation:
        if attn_implementation.startswith("flash_attention") and not torch.cuda.is_available():
            raise RuntimeError(
                f"attn_implementation={attn_implementation!r} needs a CUDA GPU (and pip install flash-attn). "
                "Fix: use attn_implementation: sdpa (PyTorch's fused attention, runs everywhere) or null."
            )
        kwargs["attn_implementation"] = attn_implementation
    if load_in_4bit:
        from transformers import BitsAndBytesConfig

        cuda = torch.cuda.is_available()
        if not cuda:  # bitsandbytes >= 0.50 runs NF4 on a CPU too (notebook 08, appendix A)
            from helpers.quant import bnb_cpu_available

            ok, reason = bnb_cpu_available()
            if not ok:
                raise RuntimeError(f"load_in_4bit=True (QLoRA) needs bitsandbytes: {reason}.")
        compute = (
            torch.bfloat16 if cuda else torch.float32
        )  # the dtype each layer dequantizes to for its matmul
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute,
        )
        kwargs["dtype"] = compute
        # one device per process: under torchrun/accelerate each rank loads onto its own GPU (LOCAL_RANK)
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0")) if cuda else "cpu"}
    model, tokenizer = load_model(name, **kwargs)
    if load_in_4bit:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    model.config.use_cache = False  # the KV cache is useless in training and costs memory
    return model, tokenizer


def _measure_steps_child(spec_path: str) -> None:
    """The fresh process of :func:`measure_train_steps`: load, wrap, measure the baseline, train, print JSON."""
    spec = torch.load(spec_path, weights_only=False)
    torch.manual_seed(spec["seed"])
    framework = rss_mb()  # Python, torch, transformers and peft imported; no model yet
    model, _ = load_model_for_training(spec["model"])
    if spec["method"] == "lora":
        from peft import get_peft_model

        model = get_peft_model(model, spec["lora_config"])
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in spec["batch"].items()}
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=spec["learning_rate"])
    model.train()
    with torch.no_grad():  # read every weight once: memory-mapped weights become resident before the baseline
        for p in model.parameters():
            p.sum()
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated() / 2**20
    else:
        baseline = rss_mb()  # the loaded (and wrapped) model, before any step
        reset_peak_rss()
    step_seconds = []
    for _ in range(spec["steps"]):
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=spec["bf16"]):
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        step_seconds.append(time.perf_counter() - start)
    timed = step_seconds[1:] or step_seconds  # the first step also allocates AdamW's states and warms up
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else peak_rss_mb()
    result = {
        "method": spec["method"],
        "trainable": sum(p.numel() for p in params),
        "steps": spec["steps"],
        "s_per_step": sum(timed) / len(timed),
        "step_seconds": step_seconds,
        "baseline_mb": baseline,
        "peak_mb": peak,
        "peak_extra_mb": peak - baseline,
        "framework_mb": None if cuda else framework,
        "peak_over_framework_mb": None if cuda else peak - framework,
        "memory": "cuda allocated" if cuda else "RSS",
        "loss": float(loss),
    }
    print(json.dumps(result))


def measure_train_steps(
    method: str,
    batch: dict[str, torch.Tensor],
    *,
    model: str = DEFAULT_MODEL,
    steps: int = 3,
    lora_config: Any = None,
    bf16: bool = False,
    learning_rate: float = 1e-5,
    seed: int = 0,
    return_freed_memory: bool = True,
) -> dict[str, Any]:
    """Train ``steps`` AdamW steps on one fixed ``batch`` in a FRESH Python process; report time and peak memory.

    Why a fresh process: in a process that trained before, the allocator keeps the memory that training freed
    and hands it out again, so a second measurement can show no growth at all. The child loads ``model``
    (wrapped with ``lora_config`` for ``method="lora"``; every weight trainable for ``"full"``), takes its
    resident memory as the baseline, resets the peak counter, trains, and reports the peak above that
    baseline: gradients, optimizer states and activations, not the weights. It makes glibc return freed blocks at
    once (``return_freed_memory``), so the peak is what training holds, not an allocator cache. Notebooks 02 and
    04 measure with it.
    On a CUDA GPU it reports ``torch.cuda.max_memory_allocated`` above the loaded model instead.
    ``s_per_step`` leaves out the first step when there are more (it also allocates AdamW's states).

    Args:
        method: ``"lora"`` or ``"full"``.
        batch: model inputs with ``labels`` (e.g. a ``ChatCollator`` batch), on any device.
        model: a name for :func:`load_model_for_training`.
        steps: optimizer steps (AdamW allocates its two moments at the first one).
        lora_config: the ``peft.LoraConfig`` for ``"lora"``.
        bf16: compute under bf16 autocast.
        learning_rate: AdamW's rate (the measurement does not depend on it).
        seed: seeds the child (LoRA's A init).
        return_freed_memory: pin glibc's mmap and trim thresholds in the child (Linux; no effect elsewhere).

    Returns:
        ``{"method", "trainable", "steps", "s_per_step", "step_seconds", "baseline_mb", "peak_mb",
        "peak_extra_mb", "framework_mb", "peak_over_framework_mb", "memory", "loss"}`` (memory in MiB; ``memory``
        says which: "RSS" or "cuda allocated"). ``peak_extra_mb`` is the peak above the loaded model (gradients,
        optimizer states, activations); on a CPU, ``peak_over_framework_mb`` is the peak above the process before
        the model was loaded (weights included: what notebook 02's estimate covers), else None.
    """
    import tempfile

    if method not in {"lora", "full"}:
        raise ValueError(f"method={method!r}; use 'lora' or 'full'.")
    if method == "lora" and lora_config is None:
        raise ValueError("method='lora' needs lora_config= (a peft.LoraConfig).")
    if steps < 1:
        raise ValueError(f"steps={steps} must be >= 1.")
    with tempfile.TemporaryDirectory(prefix="lora-lab-measure-") as tmp:
        spec_path = str(Path(tmp) / "spec.pt")
        torch.save(
            {
                "method": method,
                "batch": {k: v.detach().cpu() for k, v in batch.items()},
                "model": model,
                "steps": steps,
                "lora_config": lora_config,
                "bf16": bool(bf16),
                "learning_rate": learning_rate,
                "seed": seed,
            },
            spec_path,
        )
        code = (
            "import sys; from helpers.finetune import _measure_steps_child; _measure_steps_child(sys.argv[1])"
        )
        return run_fresh_process(code, [spec_path], what="measuring", return_freed_memory=return_freed_memory)


def ensure_adapter(
    path: str | os.PathLike | None = None, *, model: str | None = None, quick: bool = True
) -> Path:
    """Return an adapter folder, training one first when it is missing or incomplete.

    Args:
        path: the adapter folder; default ``env.artifacts_dir() / "adapter"`` (what notebook 04 writes).
        model: base model for a rebuild; default the embedded model (tests pass a tiny model's folder).
        quick: under SMOKE, rebuild with a few steps; ``False`` always uses the full recipe
            (``configs/train_cpu.yaml``, :mod:`helpers.train`).

    Returns:
        The adapter folder (holds ``adapter_model.safetensors`` and ``adapter_config.json``).
    """
    from helpers import train

    path = Path(path) if path else env.artifacts_dir() / "adapter"
    if adapter_is_complete(path):
        return path
    why = "incomplete" if path.exists() else "missing"
    overrides: dict[str, Any] = {"adapter_dir": str(path), "model": model or DEFAULT_MODEL}
    if quick and env.smoke_default():  # a few steps: a smoke run checks the plumbing
        overrides |= {"training.max_steps": 4, "max_train_examples": 32, "max_eval_examples": 8,
                      "training.eval_strategy": "no", "training.logging_steps": 1}  # fmt: skip
    recipe = train.load_recipe(train.RECIPE, overrides)
    steps = recipe["training"]["max_steps"]
    print(f"The adapter at {_show(path)} is {why}: rebuilding it with the course recipe ({steps} steps)...")
    if path.exists():
        shutil.rmtree(path)
    train.train(recipe)
    print(f"Rebuilt the adapter at {_show(path)}.")
    return path


def _show(path: Path) -> str:
    """A path relative to the repo (or the artifacts folder) when possible, never an absolute machine path."""
    for base, label in ((env.ROOT, ""), (env.artifacts_dir(), "<artifacts>/")):
        try:
            return label + str(Path(path).resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return Path(path).name


# --- command line -------------------------------------------------------------------------------
