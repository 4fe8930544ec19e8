"""Adapter folders: the one completeness check, the fit to a base model, a checked load, and merge fidelity."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch

#: How to rebuild the course adapter; every adapter-folder error names it.
ADAPTER_FIX = "run notebooks/04_training.ipynb, or call helpers.finetune.ensure_adapter() to rebuild it"
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


class AdapterError(ValueError):
    """An adapter folder is missing, incomplete, or does not fit the model; the message names the fix."""


# --- adapter folders -----------------------------------------------------------------------------


def check_adapter_dir(path: str | os.PathLike) -> dict[str, Any]:
    """Check that ``path`` is a complete peft adapter folder and return its ``adapter_config.json``.

    Args:
        path: the folder written by ``PeftModel.save_pretrained`` (or the trainer).

    Returns:
        The parsed adapter config.

    Raises:
        AdapterError: the folder, its config or its weights are missing, unreadable or truncated.
    """
    path = Path(path)
    if not path.is_dir():
        raise AdapterError(f"No adapter folder at {path}.\nFix: {ADAPTER_FIX}.")
    config_file = path / "adapter_config.json"
    if not config_file.is_file():
        raise AdapterError(
            f"{path} has no adapter_config.json, so it is not a complete adapter folder "
            f"(it holds: {sorted(p.name for p in path.iterdir()) or 'nothing'}).\nFix: {ADAPTER_FIX}."
        )
    try:
        config = json.loads(config_file.read_text())
    except ValueError as exc:
        raise AdapterError(f"{config_file} is not valid JSON ({exc}).\nFix: {ADAPTER_FIX}.") from exc
    if not isinstance(config, dict) or "peft_type" not in config:
        raise AdapterError(f"{config_file} has no 'peft_type', so peft cannot read it.\nFix: {ADAPTER_FIX}.")
    weights = [path / name for name in ADAPTER_WEIGHTS if (path / name).is_file()]
    if not weights:
        raise AdapterError(
            f"{path} has adapter_config.json but no weights ({' or '.join(ADAPTER_WEIGHTS)}); "
            f"training was probably interrupted before saving.\nFix: {ADAPTER_FIX}."
        )
    if weights[0].suffix == ".safetensors":
        try:
            shapes = _adapter_shapes(weights[0])
        except Exception as exc:  # noqa: BLE001 - any unreadable file means the same thing to the learner
            raise AdapterError(
                f"{weights[0]} cannot be read ({type(exc).__name__}: {exc}); it is truncated or corrupt.\n"
                f"Fix: {ADAPTER_FIX}."
            ) from exc
        if not shapes:
            raise AdapterError(f"{weights[0]} holds no tensors.\nFix: {ADAPTER_FIX}.")
    return config


def adapter_is_complete(path: str | os.PathLike) -> bool:
    """True when :func:`check_adapter_dir` accepts ``path`` (a readable config and non-empty weights)."""
    try:
        check_adapter_dir(path)
    except AdapterError:
        return False
    return True


def _adapter_shapes(weights: Path) -> dict[str, tuple[int, ...]]:
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as f:
        return {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}  # noqa: SIM118 - safe_open is no dict


def _model_label(model: Any) -> str:
    name = getattr(model, "name_or_path", None) or getattr(model.config, "_name_or_path", None) or "unnamed"
    return f"{type(model).__name__} '{name}'"


def _adapter_label(config: dict[str, Any]) -> str:
    name = config.get("base_model_name_or_path") or "unnamed"
    base_class = (config.get("auto_mapping") or {}).get("base_model_class")
    if not base_class:  # peft records the class only sometimes; a local base folder names it in config.json
        try:
            base_class = json.loads((Path(name) / "config.json").read_text())["architectures"][0]
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            base_class = "a model"
    return f"{base_class} '{name}'"


def adapter_mismatches(model: Any, path: str | os.PathLike) -> list[str]:
    """List why the adapter in ``path`` does not fit ``model`` (empty when it fits).

    Compares every LoRA matrix in the adapter's safetensors file with the module it patches:
    the module must exist and ``lora_A`` must be ``(r, in_features)``, ``lora_B`` ``(out_features, r)``.

    Args:
        model: the base model (not yet wrapped by peft).
        path: a complete adapter folder (see :func:`check_adapter_dir`).

    Returns:
        Human-readable problems, one per mismatching tensor.
    """
    path = Path(path)
    weights = path / ADAPTER_WEIGHTS[0]
    if not weights.is_file():
        return []  # .bin adapters: leave the check to peft
    problems = []
    for key, shape in _adapter_shapes(weights).items():
        match = re.fullmatch(r"base_model\.model\.(.+)\.(lora_A|lora_B)\.weight", key)
        if match is None:
            continue
        module_path, which = match.groups()
        try:
            module = model.get_submodule(module_path)
        except AttributeError:
            problems.append(f"{module_path}: no such module in the model")
            continue
        if not isinstance(module, torch.nn.Linear):
            continue
        expected_dim = module.in_features if which == "lora_A" else module.out_features
        got_dim = shape[1] if which == "lora_A" else shape[0]
        if got_dim != expected_dim:
            side = "in_features" if which == "lora_A" else "out_features"
            problems.append(f"{module_path}.{which}: adapter {side}={got_dim}, model {side}={expected_dim}")
    return problems


def check_adapter_fits(model: Any, path: str | os.PathLike) -> dict[str, Any]:
    """Check that the adapter folder is complete and was trained for a model shaped like ``model``.

    Args:
        model: the base model about to receive the adapter.
        path: the adapter folder.

    Returns:
        The adapter config.

    Raises:
        AdapterError: the folder is incomplete, or the adapter was trained for another base model
            (the message names both models and the first mismatches).
    """
    config = check_adapter_dir(path)
    problems = adapter_mismatches(model, path)
    if problems:
        shown = "\n  ".join(problems[:5]) + (
            f"\n  ... and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        raise AdapterError(
            f"The adapter at {path} was trained for {_adapter_label(config)}, "
            f"but it is being loaded onto {_model_label(model)}; {len(problems)} LoRA matrices do not fit:\n  "
            f"{shown}\nFix: load the base model named in adapter_config.json (base_model_name_or_path), "
            "or train an adapter for this model."
        )
    return config


def load_adapter_checked(
    model: Any, path: str | os.PathLike, *, adapter_name: str = "default", is_trainable: bool = False
) -> Any:
    """``PeftModel.from_pretrained`` with the folder and shape checks first, and errors that name both models.

    Args:
        model: the base model (it is modified in place by peft, as with ``from_pretrained``).
        path: the adapter folder.
        adapter_name: the name the adapter gets inside the ``PeftModel``.
        is_trainable: keep the LoRA weights trainable.

    Returns:
        The ``PeftModel``.
    """
    from peft import PeftModel

    config = check_adapter_fits(model, path)
    try:
        return PeftModel.from_pretrained(
            model, str(path), adapter_name=adapter_name, is_trainable=is_trainable
        )
    except RuntimeError as exc:  # e.g. size mismatch in a .bin adapter the shape check could not read
        raise AdapterError(
            f"Loading the adapter at {path}, trained for {_adapter_label(config)}, onto {_model_label(model)} "
            f"failed: {str(exc)[:500]}\nFix: load the base model the adapter was trained for."
        ) from exc


# --- merge fidelity --------------------------------------------------------------------------------


def max_logit_diff(
    logits_a: torch.Tensor, logits_b: torch.Tensor, attention_mask: torch.Tensor | None = None
) -> float:
    """The largest absolute difference between two logit tensors, over non-padding positions.

    Args:
        logits_a: e.g. the adapter model's logits, ``(batch, seq, vocab)``, computed before merging.
        logits_b: e.g. the merged model's logits on the same batch.
        attention_mask: ``(batch, seq)``; padding positions (0) are ignored.

    Returns:
        ``max |logits_a - logits_b|`` as a Python float.
    """
    if logits_a.shape != logits_b.shape:
        raise ValueError(
            f"Logit shapes differ: {tuple(logits_a.shape)} vs {tuple(logits_b.shape)}; use the same batch."
        )
    diff = (logits_a.float() - logits_b.float()).abs()  # (batch, seq, vocab)
    if attention_mask is not None:
        diff = diff[attention_mask.bool()]  # (real tokens, vocab)
    return diff.max().item()
