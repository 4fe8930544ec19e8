"""QLoRA on the CPU: detect bitsandbytes' CPU backend, inspect NF4 weights, train LoRA vs QLoRA in fresh processes."""

from __future__ import annotations

import json
import logging
import os
import random
import time
from pathlib import Path
from typing import Any

import torch

from helpers import env

#: The oldest bitsandbytes whose CPU backend the course has run (pyproject pins the tested range).
MIN_BNB_VERSION = "0.50"


def bnb_cpu_available() -> tuple[bool, str]:
    """Whether bitsandbytes can quantize, multiply and backpropagate through a 4-bit NF4 layer on this CPU.

    Imports bitsandbytes (quietly: its CPU backend logs at import that an optional faster kernel from the
    Hugging Face hub is missing), checks the version, then runs one tiny NF4 matmul with a gradient.

    Returns:
        ``(True, "bitsandbytes X: ...")`` or ``(False, reason)``, the reason one line saying what is missing
        and how to get it.
    """
    from packaging.version import Version

    quiet = logging.getLogger("bitsandbytes")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        import bitsandbytes as bnb
    except Exception as err:  # ImportError, or a broken install that fails while loading its library
        return False, (
            f"bitsandbytes is not installed or does not import ({type(err).__name__}); "
            f"pip install 'bitsandbytes>={MIN_BNB_VERSION}' to run QLoRA on the CPU"
        )
    finally:
        quiet.setLevel(level)
    version = getattr(bnb, "__version__", "0")
    if Version(version) < Version(MIN_BNB_VERSION):
        return False, (
            f"bitsandbytes {version} predates the CPU backend this course tested (>= {MIN_BNB_VERSION}); "
            f"pip install -U 'bitsandbytes>={MIN_BNB_VERSION}'"
        )
    try:
        weight = torch.randn(64, 64)  # (out, in)
        packed, state = bnb.functional.quantize_4bit(
            weight, blocksize=64, quant_type="nf4", compress_statistics=True
        )
        x = torch.randn(2, 64, requires_grad=True)  # (batch, in)
        y = bnb.matmul_4bit(x, packed.t(), quant_state=state)  # (batch, out)
        y.sum().backward()
        ok = x.grad is not None and torch.isfinite(y).all().item()
    except Exception as err:
        return (
            False,
            f"bitsandbytes {version} cannot run 4-bit NF4 on this CPU ({type(err).__name__}: {str(err)[:120]})",
        )
    if not ok:
        return False, f"bitsandbytes {version} ran a 4-bit NF4 matmul on this CPU but gave no finite gradient"
    return True, f"bitsandbytes {version}: 4-bit NF4 quantizes, multiplies and backpropagates on this CPU"


def footprint_mb(model: Any) -> float:
    """Memory of a model's weights in MB: ``get_memory_footprint()`` plus the NF4 scales (quant states) it leaves out."""
    extra = 0
    for module in model.modules():
        state = getattr(getattr(module, "weight", None), "quant_state", None)
        if state is None:
            continue
        for tensor in _state_tensors(state):
            extra += tensor.numel() * tensor.element_size()
    return (model.get_memory_footprint() + extra) / 1e6


def _state_tensors(state: Any) -> list[torch.Tensor]:
    tensors = [getattr(state, "absmax", None), getattr(state, "code", None)]
    nested = getattr(state, "state2", None)
    if nested is not None:
        tensors += [nested.absmax, nested.code, getattr(state, "offset", None)]
    return [t for t in tensors if isinstance(t, torch.Tensor)]


def nf4_levels() -> torch.Tensor:
    """The 16 values of the NF4 code, in [-1, 1]: a 4-bit weight is one of them times its block's absmax."""
    from bitsandbytes.functional import get_4bit_type

    return get_4bit_type("nf4", device="cpu").float()


def dequantize(weight: Any) -> torch.Tensor:
    """The fp32 matrix an NF4 ``Params4bit`` stands for (what the 4-bit layer multiplies with), shape (out, in)."""
    from bitsandbytes.functional import dequantize_4bit

    if getattr(weight.quant_state, "packing_format_for_cpu", False):
        raise ValueError(
            "This weight was repacked for bitsandbytes' fused CPU inference kernel (after an eval-mode forward "
            "on an AVX512-BF16 CPU). Fix: dequantize before running inference, or load the model again."
        )
    return dequantize_4bit(weight.data, weight.quant_state).float()


def relative_error(weight: torch.Tensor, approx: torch.Tensor) -> float:
    """``||W - W_hat|| / ||W||`` (Frobenius norms)."""
    weight, approx = weight.detach().float(), approx.detach().float()
    return float((weight - approx).norm() / weight.norm())


def block_normalised(weight: torch.Tensor, blocksize: int = 64) -> torch.Tensor:
    """Each weight divided by the absmax of its quantization block: values in [-1, 1], where NF4's levels live.

    bitsandbytes cuts the row-major flattened matrix into consecutive blocks of ``blocksize`` values.
    """
    flat = weight.detach().float().flatten()
    if flat.numel() % blocksize:
        raise ValueError(f"{flat.numel()} weights do not split into blocks of {blocksize}.")
    blocks = flat.view(-1, blocksize)  # (n_blocks, blocksize)
    return (blocks / blocks.abs().amax(dim=1, keepdim=True).clamp_min(1e-12)).flatten()


@torch.inference_mode()
def prompt_logits(model: Any, tokenizer: Any, prompts: list[list[dict]]) -> list[torch.Tensor]:
    """The logits of each chat prompt (rendered with the chat template, one at a time: no padding), (seq, vocab)."""
    from helpers.evaluate import render_prompts

    was_training = model.training
    model.eval()
    out = []
    for text in render_prompts(tokenizer, prompts):
        ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        out.append(model(**ids).logits[0].float())  # (seq, vocab)
    model.train(was_training)
    return out


def logit_gap(reference: list[torch.Tensor], other: list[torch.Tensor]) -> dict[str, float]:
    """How far ``other``'s logits are from ``reference``'s over all positions of all prompts.

    Returns:
        ``{"max_abs": ..., "mean_abs": ..., "top1_agree": share of positions with the same most likely token}``.
    """
    ref, oth = torch.cat(reference), torch.cat(other)  # (positions, vocab)
    diff = (ref - oth).abs()
    return {
        "max_abs": float(diff.max()),
        "mean_abs": float(diff.mean()),
        "top1_agree": float((ref.argmax(-1) == oth.argmax(-1)).float().mean()),
    }


# --------------------------------------------------------------------------------------------------
# LoRA vs QLoRA, each trained in a fresh process
# --------------------------------------------------------------------------------------------------


def _child_path(path: str | os.PathLike) -> str:
    """An absolute path for the child (it runs in the repo root); a name that is no local path, such as the hub
    id ``"Qwen/Qwen2.5-0.5B-Instruct"``, is passed on unchanged for ``from_pretrained`` to download."""
    return str(Path(path).resolve()) if Path(path).exists() else str(path)


def train_in_subprocess(
    method: str,
    *,
    model_dir: str | os.PathLike,
    tokenizer_dir: str | os.PathLike,
    data_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    steps: int,
    batch_size: int = 2,
    grad_accum: int = 2,
    learning_rate: float = 2e-3,
    lora_r: int = 16,
    n_val: int = 16,
    n_exact: int = 8,
    max_length: int = 256,
    seed: int = 0,
    timeout: float = 900,
) -> dict[str, Any]:
    """Train a LoRA adapter on the fp32 model (``"lora"``) or on a saved NF4 model (``"qlora"``) in a FRESH process.

    A fresh process per side keeps the numbers clean: a process that trained before keeps the memory it freed,
    and would show the second side's peak too low. Both sides use notebook 04's recipe (AdamW, linear decay,
    gradient clipping at 1.0, LoRA on all linear layers with alpha = 2r, no dropout), the same seed (so the same
    initial adapter) and the same ``steps * batch_size * grad_accum`` training examples in the same order.

    The child loads the model (``model_dir``: the fp32 folder for ``"lora"``; for ``"qlora"`` a folder saved from
    an NF4 model, which loads without quantizing again), wraps it (``prepare_model_for_kbit_training`` first for
    QLoRA), resets the peak-RSS counter, trains, then scores ``n_val`` validation examples (loss) and the first
    ``n_exact`` of them (greedy generation, exact match), and saves the adapter into ``output_dir``.

    Returns:
        ``{"method", "steps", "trainable", "losses", "s_per_step", "baseline_rss_mb", "peak_rss_mb", "val_loss",
        "exact", "json_valid", "n_val", "n_exact", "footprint_mb", "adapter_dir", "seconds"}``. ``losses`` holds
        each step's training loss, ``s_per_step`` the mean seconds of an optimizer step, ``peak_rss_mb`` the
        process's peak resident memory while training (weights, activations and the allocator's cache),
        ``baseline_rss_mb`` its memory just before the first step, ``footprint_mb`` the base weights'
        (:func:`footprint_mb`). ``seconds`` says where the child's time went: ``startup`` (Python and the
        imports), ``load`` (tokenizer, model, data), ``train`` (the steps), ``val`` (the validation loss),
        ``generate`` (exact match, then saving the adapter) and ``process`` (the whole child).

    Raises:
        ValueError: an unknown ``method`` or a count below 1.
        RuntimeError: the child failed (its stderr's tail is in the message).
    """
    import tempfile

    if method not in {"lora", "qlora"}:
        raise ValueError(f"method={method!r}; use 'lora' (fp32 base) or 'qlora' (NF4 base).")
    if steps < 1 or n_val < 1 or n_exact < 1:
        raise ValueError(f"steps ({steps}), n_val ({n_val}) and n_exact ({n_exact}) must be >= 1.")
    local = {
        "model_dir": model_dir,
        "tokenizer_dir": tokenizer_dir,
        "data_dir": data_dir,
        "output_dir": output_dir,
    }
    spec = {
        "method": method,
        **{key: _child_path(path) for key, path in local.items()},  # the child runs in the repo root
        "steps": steps,
        "batch_size": batch_size,
        "grad_accum": grad_accum,
        "learning_rate": learning_rate,
        "lora_r": lora_r,
        "n_val": n_val,
        "n_exact": min(n_exact, n_val),
        "max_length": max_length,
        "seed": seed,
    }
    # No return_freed_memory here (unlike finetune.measure_train_steps): an mmap per large block would make every
    # step many times slower, and a fresh process needs no help to show its own peak.
    with tempfile.TemporaryDirectory(prefix="lora-lab-qlora-") as tmp:
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        code = "import sys; from helpers.quant import _train_child; _train_child(sys.argv[1])"
        start = time.perf_counter()
        result = env.run_fresh_process(code, [str(spec_path)], what=f"{method} training", timeout=timeout)
    seconds = result["seconds"]
    seconds["process"] = time.perf_counter() - start  # the whole child, Python's start-up included
    seconds["startup"] = seconds["process"] - sum(v for k, v in seconds.items() if k != "process")
    return result


def load_for_training(method: str, model_dir: str, *, lora_r: int = 16, seed: int = 0) -> tuple[Any, float]:
    """The child's model: fp32 (``"lora"``) or NF4 from a saved 4-bit folder (``"qlora"``), wrapped in LoRA.

    Returns:
        ``(peft_model, footprint_mb)``, the footprint of the base weights before the adapter was added.
    """
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    if method == "qlora":
        # the folder's config.json holds the BitsAndBytesConfig; device_map keeps every layer on the CPU
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, device_map={"": "cpu"})
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    else:
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.config.use_cache = False
    footprint = footprint_mb(model)
    torch.manual_seed(seed)  # the same initial adapter on both sides
    config = LoraConfig(
        r=lora_r, lora_alpha=2 * lora_r, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    return get_peft_model(model, config), footprint


def _train_child(spec_path: str) -> None:
    """The fresh process of :func:`train_in_subprocess`: load, wrap, train, score, save, print one JSON line."""
    import warnings

    from transformers import AutoTokenizer, get_linear_schedule_with_warmup
    from transformers.utils import logging as hf_logging

    from helpers import data, evaluate
    from helpers.memory import peak_rss_mb, reset_peak_rss, rss_mb

    started = time.perf_counter()  # the imports above and Python's start-up are the parent's "startup"
    spec = json.loads(Path(spec_path).read_text())
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore")
    env.set_seed(spec["seed"])
    tokenizer = AutoTokenizer.from_pretrained(spec["tokenizer_dir"])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model, footprint = load_for_training(
        spec["method"], spec["model_dir"], lora_r=spec["lora_r"], seed=spec["seed"]
    )

    splits = data.load_splits(spec["data_dir"])
    per_step = spec["batch_size"] * spec["grad_accum"]
    order = random.Random(spec["seed"]).sample(range(len(splits["train"])), len(splits["train"]))
    needed = spec["steps"] * per_step
    # a few spare records: tokenize_records drops over-long ones
    picked = [splits["train"][i] for i in order[: needed + 16]]
    train_feats = data.tokenize_records(picked, tokenizer, spec["max_length"])[0][:needed]
    if len(train_feats) < needed:
        raise ValueError(
            f"{len(train_feats)} training examples, fewer than {spec['steps']} steps x {per_step}."
        )
    val_records = splits["validation"][: spec["n_val"]]
    val_feats, _ = data.tokenize_records(val_records, tokenizer, spec["max_length"])
    collator = data.ChatCollator(tokenizer)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=spec["learning_rate"], weight_decay=0.0)
    schedule = get_linear_schedule_with_warmup(
        optimizer, num_warmup_steps=0, num_training_steps=spec["steps"]
    )
    model.train()
    baseline = rss_mb()
    reset_peak_rss()
    losses, seconds = [], []
    for step in range(spec["steps"]):
        start = time.perf_counter()
        step_loss = 0.0
        for micro in range(spec["grad_accum"]):
            first = (step * spec["grad_accum"] + micro) * spec["batch_size"]
            batch = collator(train_feats[first : first + spec["batch_size"]])  # (batch, longest)
            loss = model(**batch).loss / spec["grad_accum"]
            loss.backward()
            step_loss += float(loss)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - start)
        losses.append(step_loss)
    peak = peak_rss_mb()
    trained = time.perf_counter()

    val = evaluate.perplexity(model, val_feats, batch_size=4, collator=collator, progress=False)
    validated = time.perf_counter()
    exact_records = val_records[: spec["n_exact"]]
    prompts = [data.prompt_messages(r) for r in exact_records]
    targets = [data.target_text(r) for r in exact_records]
    predictions = evaluate.generate(
        model,
        tokenizer,
        prompts,
        max_new_tokens=evaluate.max_new_tokens_for(tokenizer, targets),
        batch_size=len(prompts),
        progress=False,
    )
    scores = evaluate.score_extraction(predictions, targets)
    model.save_pretrained(spec["output_dir"])
    result = {
        "seconds": {  # where the child's time went (the parent adds "startup" and "process")
            "load": trained - started - sum(seconds),
            "train": sum(seconds),
            "val": validated - trained,
            "generate": time.perf_counter() - validated,
        },
        "method": spec["method"],
        "steps": spec["steps"],
        "trainable": sum(p.numel() for p in params),
        "losses": losses,
        "s_per_step": sum(seconds) / len(seconds),
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak,
        "val_loss": val["loss"],
        "exact": scores["exact_match"],
        "json_valid": scores["json_valid"],
        "n_val": len(val_feats),
        "n_exact": len(prompts),
        "footprint_mb": footprint,
        "adapter_dir": spec["output_dir"],
    }
    print(json.dumps(result))
