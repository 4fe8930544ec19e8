"""helpers.adapters: the adapter folder checks, the fit to a base model, the checked load, and merge fidelity."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from helpers import adapters as ad
from helpers.models import tiny_model


def _lora(model, *, seed: int = 0, r: int = 4):
    """A peft LoRA with random (non-zero) B, so the adapter really changes the outputs."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    return get_peft_model(
        model, LoraConfig(r=r, lora_alpha=2 * r, target_modules="all-linear", init_lora_weights=False)
    )


@pytest.fixture(scope="module")
def qwen_adapter(tmp_path_factory) -> Path:
    model, _ = tiny_model("qwen2")
    model.name_or_path = "tiny-qwen2"  # what from_pretrained sets, and what peft records
    folder = tmp_path_factory.mktemp("adapter-qwen2")
    _lora(model).save_pretrained(folder)
    return folder


# --- adapter folders -------------------------------------------------------------------------------


def test_missing_adapter_folder_names_the_fix(tmp_path):
    with pytest.raises(ad.AdapterError, match="No adapter folder") as info:
        ad.check_adapter_dir(tmp_path / "adapter")
    assert "ensure_adapter()" in str(info.value) and "04_training" in str(info.value)


def test_incomplete_adapter_folders(tmp_path, qwen_adapter):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ad.AdapterError, match="no adapter_config.json.*\n.*ensure_adapter"):
        ad.check_adapter_dir(empty)
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    (no_weights / "adapter_config.json").write_text((qwen_adapter / "adapter_config.json").read_text())
    with pytest.raises(ad.AdapterError, match="no weights"):
        ad.check_adapter_dir(no_weights)
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    (truncated / "adapter_config.json").write_text((qwen_adapter / "adapter_config.json").read_text())
    data = (qwen_adapter / "adapter_model.safetensors").read_bytes()
    (truncated / "adapter_model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ad.AdapterError, match="truncated or corrupt"):
        ad.check_adapter_dir(truncated)
    bad_json = tmp_path / "bad_json"
    bad_json.mkdir()
    (bad_json / "adapter_config.json").write_text("{not json")
    with pytest.raises(ad.AdapterError, match="not valid JSON"):
        ad.check_adapter_dir(bad_json)
    config = ad.check_adapter_dir(qwen_adapter)
    assert config["peft_type"] == "LORA" and config["r"] == 4


def test_adapter_is_complete_is_the_same_check(tmp_path, qwen_adapter):
    """One completeness check: adapter_is_complete is True exactly where check_adapter_dir passes."""
    from safetensors.torch import save_file

    from helpers import finetune

    assert finetune.adapter_is_complete is ad.adapter_is_complete  # notebooks 04-06 call it from finetune
    assert ad.adapter_is_complete(qwen_adapter)
    assert not ad.adapter_is_complete(tmp_path / "missing")
    empty = tmp_path / "empty_weights"
    empty.mkdir()
    (empty / "adapter_config.json").write_text((qwen_adapter / "adapter_config.json").read_text())
    save_file({}, str(empty / "adapter_model.safetensors"))
    with pytest.raises(ad.AdapterError, match="holds no tensors"):
        ad.check_adapter_dir(empty)
    assert not ad.adapter_is_complete(empty)


def test_adapter_on_wrong_base_names_both(qwen_adapter):
    model, _ = tiny_model("llama", hidden_size=32)
    model.name_or_path = "tiny-llama-32"
    with pytest.raises(ad.AdapterError) as info:
        ad.load_adapter_checked(model, qwen_adapter)
    message = str(info.value)
    assert "Qwen2ForCausalLM 'tiny-qwen2'" in message  # what the adapter was trained for
    assert "LlamaForCausalLM 'tiny-llama-32'" in message  # what it was loaded onto
    assert "in_features=64, model in_features=32" in message
    # the check runs before peft touches the model: no LoRA layers were injected
    assert not any("lora_" in name for name, _ in model.named_modules())


def test_adapter_on_shallower_base_is_refused(qwen_adapter):
    model, _ = tiny_model("qwen2", num_layers=1)  # same widths: peft alone would load it silently
    with pytest.raises(ad.AdapterError, match="model.layers.1.*no such module"):
        ad.check_adapter_fits(model, qwen_adapter)


def test_checked_load_matches_peft(qwen_adapter):
    from peft import PeftModel

    model, tok = tiny_model("qwen2")
    ids = tok("hello world", return_tensors="pt")
    checked = ad.load_adapter_checked(model, qwen_adapter, adapter_name="extract")
    assert checked.active_adapter == "extract"
    plain = PeftModel.from_pretrained(tiny_model("qwen2")[0], str(qwen_adapter))
    with torch.no_grad():
        assert torch.equal(checked(**ids).logits, plain(**ids).logits)


# --- merge fidelity --------------------------------------------------------------------------------


@torch.no_grad()
def _fidelity(model, tok, prompts, new_tokens=6):
    """Base vs adapter vs merged on ``prompts``: (adapter-vs-base diff, merged-vs-adapter diff, same greedy, merged)."""
    batch = tok(prompts, return_tensors="pt", padding=True)
    mask = batch["attention_mask"]
    base_logits = model(**batch).logits  # (batch, seq, vocab)
    peft_model = _lora(model)
    adapter_logits = peft_model(**batch).logits
    adapter_out = peft_model.generate(**batch, max_new_tokens=new_tokens, do_sample=False)
    merged = peft_model.merge_and_unload()  # folds B·A·scale into the base weights, in place
    merged_logits = merged(**batch).logits
    merged_out = merged.generate(**batch, max_new_tokens=new_tokens, do_sample=False)
    return (
        ad.max_logit_diff(adapter_logits, base_logits, mask),
        ad.max_logit_diff(adapter_logits, merged_logits, mask),
        torch.equal(adapter_out, merged_out),
        merged,
    )


def test_merge_fidelity_bound_tiny():
    model, tok = tiny_model("qwen2")
    tok.padding_side = "left"
    adapter_vs_base, diff, same_greedy, merged = _fidelity(
        model, tok, ["Anna, 31, Oslo", "a longer prompt here ok"]
    )
    assert adapter_vs_base > 1e-3  # the adapter really changes the logits, so a no-op merge would be caught
    assert diff <= 1e-4, f"merged logits differ by {diff:.2e}"
    assert same_greedy
    assert not any("lora_" in name for name, _ in merged.named_modules())


def test_max_logit_diff_masks_padding_and_sees_differences():
    a = torch.zeros(2, 3, 5)
    b = a.clone()
    b[0, 0] = 7.0  # a padding position
    b[1, 2, 4] = 0.5
    mask = torch.tensor([[0, 1, 1], [1, 1, 1]])
    assert ad.max_logit_diff(a, b, mask) == 0.5
    assert ad.max_logit_diff(a, b) == 7.0
    with pytest.raises(ValueError, match="shapes differ"):
        ad.max_logit_diff(a, b[:, :2])


@pytest.mark.slow
def test_merge_fidelity_bound_embedded():
    from helpers.models import load_model

    model, tok = load_model(dtype=torch.float32, device="cpu")
    tok.padding_side = "left"
    adapter_vs_base, diff, same_greedy, _ = _fidelity(
        model, tok, ["Anna, 31, lives in Oslo.", "Name: Li Wei"], new_tokens=2
    )
    assert adapter_vs_base > 1e-2
    assert diff <= 1e-4, f"merged logits differ by {diff:.2e}"
    assert same_greedy
