"""Hand-written LoRA and DoRA layers, their injection, merge and closed-form parameter count (the tested copy of notebook 03)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: The linear layers of a Llama/Qwen2/Mistral decoder block, in the order they run.
DECODER_LINEARS: tuple[str, ...] = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
)
#: The output layer; "all-linear" leaves it out, as peft does.
OUTPUT_LAYER = "lm_head"


class LoRALinear(nn.Module):
    """``y = base(x) + scaling * B(A(dropout(x)))``: a frozen linear layer plus a trainable low-rank update.

    Mirrors peft 0.21's ``lora.Linear``: A (``lora_A``, shape ``(r, in)``) is initialized like
    ``nn.Linear`` (Kaiming-uniform with ``a=sqrt(5)``), B (``lora_B``, shape ``(out, r)``) starts at
    zero so the wrapped layer is unchanged at step 0, and ``scaling`` is ``alpha / r`` or
    ``alpha / sqrt(r)`` with rsLoRA. Dropout acts on the input of A only. The modules are created
    in peft's order, so the same seed gives the same A as peft.

    Args:
        base: the ``nn.Linear`` to adapt; its weight and bias are frozen.
        r: the rank, a positive integer.
        alpha: the scale numerator (``lora_alpha`` in peft).
        dropout: dropout probability on the input of A (0 disables it).
        use_rslora: scale by ``alpha / sqrt(r)`` (rank-stabilized LoRA) instead of ``alpha / r``.
    """

    def __init__(
        self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0, use_rslora: bool = False
    ) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}.")
        if not isinstance(r, int) or isinstance(r, bool) or r <= 0:
            raise ValueError(f"r must be a positive integer (e.g. 8 or 16), got {r!r}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
        self.base = base
        self.base.requires_grad_(False)
        self.r, self.alpha, self.use_rslora = r, alpha, use_rslora
        self.scaling = alpha / math.sqrt(r) if use_rslora else alpha / r
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        # Built in fp32 on the CPU generator, then moved to the base's device and dtype, as peft does.
        self.lora_A = nn.Linear(base.in_features, r, bias=False)  # weight (r, in)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)  # weight (out, r)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))  # U(-1/sqrt(in), 1/sqrt(in))
        nn.init.zeros_(self.lora_B.weight)
        if base.weight.is_floating_point():
            self.lora_A.to(base.weight.device, base.weight.dtype)
            self.lora_B.to(base.weight.device, base.weight.dtype)
        self.merged = False

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.base(x)  # (..., out)
        if self.merged:  # the update already lives in base.weight
            return result
        lora = self.lora_B(
            self.lora_A(self.dropout(x.to(self.lora_A.weight.dtype)))
        )  # (..., r) -> (..., out)
        return (result + lora * self.scaling).to(result.dtype)

    def delta_weight(self) -> torch.Tensor:
        """Return ``scaling * B @ A``, shape ``(out, in)``: what merging adds to the base weight."""
        return (self.lora_B.weight @ self.lora_A.weight) * self.scaling

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the update into the base weight (``W <- W + scaling * B @ A``); forward then skips A and B."""
        if self.merged:
            raise RuntimeError("This LoRALinear is already merged; call unmerge() first.")
        self.base.weight += self.delta_weight().to(self.base.weight.dtype)
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Undo :meth:`merge` (``W <- W - scaling * B @ A``)."""
        if not self.merged:
            raise RuntimeError("This LoRALinear is not merged; nothing to unmerge.")
        self.base.weight -= self.delta_weight().to(self.base.weight.dtype)
        self.merged = False

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}, scaling={self.scaling:.4g}, rslora={self.use_rslora}, merged={self.merged}"


class DoRALinear(LoRALinear):
    """DoRA (Liu et al., 2024): ``W' = m * (W + s·B·A) / ||W + s·B·A||``, the norm taken per output feature.

    Mirrors peft 0.21's ``LoraConfig(use_dora=True)`` on an ``nn.Linear`` (``DoraLinearLayer`` and
    ``DoraLinearVariant``). A, B, ``scaling`` and dropout are those of :class:`LoRALinear`. The
    magnitude ``m`` (``magnitude``, shape ``(out,)``; peft's ``lora_magnitude_vector``) starts at
    :meth:`weight_norm`, the row norms of the ``(out, in)`` weight ``W + s·B·A`` (``dim=1``), which
    with B at zero is ``||W||``, so the wrapped layer is unchanged at step 0. The norm is recomputed
    from the current A and B in every forward but detached, a constant for autograd (section 4.3 of
    the paper). As in peft, the forward never builds ``W'``: it returns
    ``base(x) + (m/n - 1) * (x Wᵀ) + (m/n) * B(A(x)) * s`` with ``n = ||W + s·B·A||``, which equals
    ``x W'ᵀ + bias``. With dropout in training mode, the dropped input goes through both extra terms
    (``x Wᵀ`` is then recomputed on it, without bias), as in peft.

    Args:
        base: the ``nn.Linear`` to adapt; its weight and bias are frozen. Its weight must be floating
            point (DoRA needs the norm of the weight; dequantize a quantized layer first).
        r: the rank, a positive integer.
        alpha: the scale numerator (``lora_alpha`` in peft).
        dropout: dropout probability on the input of the adapter path (0 disables it).
        use_rslora: scale by ``alpha / sqrt(r)`` (rank-stabilized LoRA) instead of ``alpha / r``.
    """

    def __init__(
        self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0, use_rslora: bool = False
    ) -> None:
        if isinstance(base, nn.Linear) and not base.weight.is_floating_point():
            raise TypeError(
                f"DoRALinear needs a floating-point base weight to take its norm, got {base.weight.dtype}; "
                "dequantize the layer first."
            )
        super().__init__(base, r, alpha, dropout, use_rslora)
        self.magnitude = nn.Parameter(self.weight_norm())  # (out,): ||W|| while B is zero
        self._merge_norm: torch.Tensor | None = None  # the norm the merge divided by, kept for unmerge()

    def weight_norm(self) -> torch.Tensor:
        """``||W + scaling * B @ A||`` over each row of the ``(out, in)`` weight, shape ``(out,)``, detached."""
        weight = self.base.weight.to(self.lora_A.weight.dtype)  # (out, in)
        return torch.linalg.norm(weight + self.delta_weight().detach(), dim=1).detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.base(x)  # (..., out): x Wᵀ + bias
        if self.merged:  # W' already lives in base.weight
            return result
        x = x.to(self.lora_A.weight.dtype)
        if self.training and not isinstance(self.dropout, nn.Identity):
            x = self.dropout(x)
            base_result = F.linear(x, self.base.weight.to(x.dtype))  # W on the dropped input, no bias
        else:
            base_result = result if self.base.bias is None else result - self.base.bias  # x Wᵀ
        mag_scale = self.magnitude / self.weight_norm()  # (out,): m / ||W + s·B·A||
        lora = self.lora_B(self.lora_A(x))  # (..., r) -> (..., out)
        return (result + ((mag_scale - 1) * base_result + mag_scale * lora * self.scaling)).to(result.dtype)

    def merged_weight(self) -> torch.Tensor:
        """Return ``W' = m * (W + scaling * B @ A) / ||W + scaling * B @ A||``, shape ``(out, in)``."""
        weight = self.base.weight.to(self.lora_A.weight.dtype)
        return (self.magnitude / self.weight_norm()).view(-1, 1) * (weight + self.delta_weight())

    @torch.no_grad()
    def merge(self) -> None:
        """Replace the base weight by :meth:`merged_weight` (the bias is unchanged); forward then skips the adapter."""
        if self.merged:
            raise RuntimeError("This DoRALinear is already merged; call unmerge() first.")
        self._merge_norm = self.weight_norm()  # of the unmerged weight; unmerge() divides it back out
        self.base.weight.copy_(self.merged_weight().to(self.base.weight.dtype))
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Undo :meth:`merge` (``W <- W' * ||W + s·B·A|| / m - s·B·A``, with the norm kept at merge time)."""
        if not self.merged or self._merge_norm is None:
            raise RuntimeError("This DoRALinear is not merged; nothing to unmerge.")
        factor = (self.magnitude / self._merge_norm).view(-1, 1)
        weight = self.base.weight.to(self.lora_A.weight.dtype)
        self.base.weight.copy_((weight / factor - self.delta_weight()).to(self.base.weight.dtype))
        self.merged, self._merge_norm = False, None

    def extra_repr(self) -> str:
        return super().extra_repr() + ", dora=True"


def linear_names(model: nn.Module) -> list[str]:
    """The distinct last name components of the ``nn.Linear`` layers in ``model`` (what ``target_modules`` can name)."""
    return sorted({name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, nn.Linear)})


def _matches(name: str, targets: str | Iterable[str]) -> bool:
    """peft's rule: a string is a full regex match on the module path; a list matches the path's last components."""
    if isinstance(targets, str):
        return re.fullmatch(targets, name) is not None
    return any(name == t or name.endswith("." + t) for t in targets)


def _output_layer_names(model: nn.Module) -> set[str]:
    out = getattr(model, "get_output_embeddings", lambda: None)()
    return {name for name, m in model.named_modules() if out is not None and m is out}


def target_paths(model: nn.Module, target_modules: str | Iterable[str]) -> list[str]:
    """The full module paths of the linears that ``target_modules`` selects, in ``named_modules`` order.

    Args:
        model: any ``nn.Module``.
        target_modules: ``"all-linear"`` (every linear except the output layer), a regex matched
            against the full path, or a list of names matched against the last path components.

    Returns:
        The matching paths. Raises ``ValueError`` listing the available names when nothing matches.
    """
    if not isinstance(target_modules, str):
        target_modules = list(target_modules)
        if not target_modules:
            raise ValueError(f"target_modules is empty. Available: {linear_names(model)} (or 'all-linear').")
    skip = _output_layer_names(model) if target_modules == "all-linear" else set()
    paths = [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear)
        and name not in skip
        and (target_modules == "all-linear" or _matches(name, target_modules))
    ]
    if not paths:
        raise ValueError(
            f"target_modules={target_modules!r} matches no nn.Linear in {type(model).__name__}. "
            f"Available: {linear_names(model)} (or 'all-linear')."
        )
    if not isinstance(target_modules, str):
        missing = [t for t in target_modules if not any(_matches(p, [t]) for p in paths)]
        if missing:
            raise ValueError(
                f"target_modules entries {missing} match no nn.Linear in {type(model).__name__}. "
                f"Available: {linear_names(model)} (or 'all-linear')."
            )
    return paths


def apply_lora(
    model: nn.Module,
    target_modules: str | Iterable[str],
    r: int,
    alpha: float,
    dropout: float = 0.0,
    use_rslora: bool = False,
    use_dora: bool = False,
) -> nn.Module:
    """Freeze ``model`` and replace the targeted linears with :class:`LoRALinear` (or :class:`DoRALinear`), in place.

    Args:
        model: the model to adapt (modified in place).
        target_modules: see :func:`target_paths`.
        r, alpha, dropout, use_rslora: see :class:`LoRALinear`.
        use_dora: wrap with :class:`DoRALinear` (``LoraConfig(use_dora=True)`` in peft).

    Returns:
        ``model``, whose only trainable parameters are now the ``lora_A``/``lora_B`` weights (and the
        DoRA magnitudes).
    """
    if not isinstance(r, int) or isinstance(r, bool) or r <= 0:
        raise ValueError(f"r must be a positive integer (e.g. 8 or 16), got {r!r}.")
    if any(isinstance(m, LoRALinear) for m in model.modules()):
        raise ValueError("This model already has LoRALinear layers; apply_lora works on a fresh model.")
    paths = target_paths(model, target_modules)
    layer_class = DoRALinear if use_dora else LoRALinear
    model.requires_grad_(False)
    for path in paths:
        parent_path, _, child = path.rpartition(".")
        parent = model.get_submodule(parent_path) if parent_path else model
        setattr(parent, child, layer_class(getattr(parent, child), r, alpha, dropout, use_rslora))
    return model


def lora_layers(model: nn.Module) -> Iterator[tuple[str, LoRALinear]]:
    """Yield ``(path, layer)`` for every :class:`LoRALinear` in ``model``."""
    for name, m in model.named_modules():
        if isinstance(m, LoRALinear):
            yield name, m


def linear_shapes(config: Any) -> dict[str, tuple[int, int]]:
    """``{name: (in_features, out_features)}`` for the linears of one decoder block, plus ``lm_head``.

    Args:
        config: a transformers config of a Llama-style decoder (Llama, Qwen2, Mistral, ...).

    Returns:
        The shapes the closed-form count uses.
    """
    cfg = config.get_text_config() if hasattr(config, "get_text_config") else config
    hidden, inter = cfg.hidden_size, cfg.intermediate_size
    heads = cfg.num_attention_heads
    kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
    head_dim = getattr(cfg, "head_dim", None) or hidden // heads
    return {
        "q_proj": (hidden, heads * head_dim),
        "k_proj": (hidden, kv_heads * head_dim),
        "v_proj": (hidden, kv_heads * head_dim),
        "o_proj": (heads * head_dim, hidden),
        "gate_proj": (hidden, inter),
        "up_proj": (hidden, inter),
        "down_proj": (inter, hidden),
        OUTPUT_LAYER: (hidden, cfg.vocab_size),
    }


def lora_parameter_count(
    config: Any, target_modules: str | Iterable[str], r: int, use_dora: bool = False
) -> int:
    """Closed-form count of LoRA's trainable parameters: ``sum over targets of r * (in + out)``.

    Args:
        config: a transformers config of a Llama-style decoder (no model is built).
        target_modules: ``"all-linear"`` or names from :data:`DECODER_LINEARS` (and ``"lm_head"``).
        r: the rank.
        use_dora: add DoRA's magnitude vector, one parameter per output feature of each target.

    Returns:
        ``layers * sum(r * (in + out))`` over the targeted block linears, plus ``lm_head`` if named
        (with DoRA, ``r * (in + out) + out`` per target).
    """
    if not isinstance(r, int) or isinstance(r, bool) or r <= 0:
        raise ValueError(f"r must be a positive integer (e.g. 8 or 16), got {r!r}.")
    shapes = linear_shapes(config)
    targets = list(DECODER_LINEARS) if target_modules == "all-linear" else target_modules
    if isinstance(targets, str):
        raise ValueError(
            f"lora_parameter_count takes 'all-linear' or a list of names, not the pattern {targets!r}. "
            f"Available: {sorted(shapes)}."
        )
    targets = list(targets)
    unknown = [t for t in targets if t not in shapes]
    if unknown or not targets:
        raise ValueError(
            f"Unknown target_modules {unknown or targets!r}; available: {sorted(shapes)} or 'all-linear'."
        )
    cfg = config.get_text_config() if hasattr(config, "get_text_config") else config

    def per_target(name: str) -> int:
        n_in, n_out = shapes[name]
        return r * (n_in + n_out) + (n_out if use_dora else 0)

    per_block = sum(per_target(t) for t in set(targets) if t != OUTPUT_LAYER)
    head = per_target(OUTPUT_LAYER) if OUTPUT_LAYER in targets else 0
    return cfg.num_hidden_layers * per_block + head
