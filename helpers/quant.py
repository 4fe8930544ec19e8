"""QLoRA on the CPU (notebook 08, appendix A): detect bitsandbytes' CPU backend, inspect NF4 weights and their error.
Training goes through helpers.train (``load_in_4bit=true``)."""

from __future__ import annotations

import logging
from typing import Any

import torch

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
