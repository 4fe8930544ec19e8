"""helpers.serve: adapter folder checks, merge fidelity, and the `transformers serve` context manager."""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch

from helpers import serve as srv
from helpers.models import tiny_model

MESSAGES = [{"role": "user", "content": "hi"}]  # the tiny random model answers it with a few words


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _port_closed(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) != 0


def _lora(model, *, seed: int = 0, r: int = 4):
    """A peft LoRA with random (non-zero) B, so the adapter really changes the outputs."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    return get_peft_model(
        model, LoraConfig(r=r, lora_alpha=2 * r, target_modules="all-linear", init_lora_weights=False)
    )


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    model, tok = tiny_model("qwen2")
    folder = tmp_path_factory.mktemp("tiny-qwen2")
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def qwen_adapter(tmp_path_factory) -> Path:
    model, _ = tiny_model("qwen2")
    model.name_or_path = "tiny-qwen2"  # what from_pretrained sets, and what peft records
    folder = tmp_path_factory.mktemp("adapter-qwen2")
    _lora(model).save_pretrained(folder)
    return folder


# --- adapter folders -------------------------------------------------------------------------------


def test_missing_adapter_folder_names_the_fix(tmp_path):
    with pytest.raises(srv.AdapterError, match="No adapter folder") as info:
        srv.check_adapter_dir(tmp_path / "adapter")
    assert "ensure_adapter()" in str(info.value) and "04_training" in str(info.value)


def test_incomplete_adapter_folders(tmp_path, qwen_adapter):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(srv.AdapterError, match="no adapter_config.json.*\n.*ensure_adapter"):
        srv.check_adapter_dir(empty)
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    (no_weights / "adapter_config.json").write_text((qwen_adapter / "adapter_config.json").read_text())
    with pytest.raises(srv.AdapterError, match="no weights"):
        srv.check_adapter_dir(no_weights)
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    (truncated / "adapter_config.json").write_text((qwen_adapter / "adapter_config.json").read_text())
    data = (qwen_adapter / "adapter_model.safetensors").read_bytes()
    (truncated / "adapter_model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(srv.AdapterError, match="truncated or corrupt"):
        srv.check_adapter_dir(truncated)
    bad_json = tmp_path / "bad_json"
    bad_json.mkdir()
    (bad_json / "adapter_config.json").write_text("{not json")
    with pytest.raises(srv.AdapterError, match="not valid JSON"):
        srv.check_adapter_dir(bad_json)
    config = srv.check_adapter_dir(qwen_adapter)
    assert config["peft_type"] == "LORA" and config["r"] == 4


def test_adapter_on_wrong_base_names_both(qwen_adapter):
    model, _ = tiny_model("llama", hidden_size=32)
    model.name_or_path = "tiny-llama-32"
    with pytest.raises(srv.AdapterError) as info:
        srv.load_adapter_checked(model, qwen_adapter)
    message = str(info.value)
    assert "Qwen2ForCausalLM 'tiny-qwen2'" in message  # what the adapter was trained for
    assert "LlamaForCausalLM 'tiny-llama-32'" in message  # what it was loaded onto
    assert "in_features=64, model in_features=32" in message
    # the check runs before peft touches the model: no LoRA layers were injected
    assert not any("lora_" in name for name, _ in model.named_modules())


def test_adapter_on_shallower_base_is_refused(qwen_adapter):
    model, _ = tiny_model("qwen2", num_layers=1)  # same widths: peft alone would load it silently
    with pytest.raises(srv.AdapterError, match="model.layers.1.*no such module"):
        srv.check_adapter_fits(model, qwen_adapter)


def test_checked_load_matches_peft(qwen_adapter):
    from peft import PeftModel

    model, tok = tiny_model("qwen2")
    ids = tok("hello world", return_tensors="pt")
    checked = srv.load_adapter_checked(model, qwen_adapter, adapter_name="extract")
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
        srv.max_logit_diff(adapter_logits, base_logits, mask),
        srv.max_logit_diff(adapter_logits, merged_logits, mask),
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
    assert srv.max_logit_diff(a, b, mask) == 0.5
    assert srv.max_logit_diff(a, b) == 7.0
    with pytest.raises(ValueError, match="shapes differ"):
        srv.max_logit_diff(a, b[:, :2])


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


# --- serving ---------------------------------------------------------------------------------------


def test_serve_refuses_a_folder_without_config(tmp_path):
    with pytest.raises(srv.ServerError, match="no config.json"), srv.serve(tmp_path):
        pass


def _fake_server(monkeypatch, script: str) -> None:
    """Replace `transformers serve` by a Python script (which receives the same arguments)."""
    monkeypatch.setattr(srv, "_serve_command", lambda: [sys.executable, "-c", script])


def test_server_not_up_in_time_shows_log_and_kills_group(monkeypatch, tiny_dir, tmp_path):
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen(['sleep', '120'])\n"
        "print('fake server loading, child', child.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    _fake_server(monkeypatch, script)
    start = time.perf_counter()
    with (
        pytest.raises(srv.ServerError) as info,
        srv.serve(tiny_dir, timeout=3, log_path=tmp_path / "log.txt"),
    ):
        pass
    message = str(info.value)
    assert "did not answer" in message and "within 3 s" in message
    assert "fake server loading" in message  # the tail of the log
    child_pid = int(message.split("child ")[1].split()[0])
    assert time.perf_counter() - start < 30
    deadline = time.time() + 5
    while not _gone(child_pid) and time.time() < deadline:
        time.sleep(0.1)
    assert _gone(child_pid), "the server's child process survived: the process group was not stopped"
    assert not srv._LIVE


def test_server_that_exits_shows_log(monkeypatch, tiny_dir):
    _fake_server(monkeypatch, "import sys; print('cannot load model: boom', flush=True); sys.exit(3)")
    with (
        pytest.raises(srv.ServerError, match=r"exited with code 3(.|\n)*cannot load model: boom"),
        srv.serve(tiny_dir, timeout=60),
    ):
        pass


def test_serve_chat_roundtrip_then_stops(tiny_dir):
    """A real `transformers serve`: loopback only, chat + streamed chat == local greedy, nothing left behind."""
    model, tok = tiny_model("qwen2")
    inputs = tok.apply_chat_template(
        MESSAGES, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    expected = tok.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)

    pids: list[int] = []
    with pytest.raises(RuntimeError, match="body failed"), srv.serve(tiny_dir, device="cpu") as server:
        proc = psutil.Process(server.pid)
        family = [proc, *proc.children(recursive=True)]
        pids = [p.pid for p in family]
        listening = [
            c for p in family for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN
        ]
        assert listening, "the server listens on no socket"
        assert {c.laddr.ip for c in listening} == {"127.0.0.1"}, listening
        assert {c.laddr.port for c in listening} == {server.port}
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"

        client = server.client()
        assert [m.id for m in client.models.list().data] == [server.model]
        reply = client.chat.completions.create(
            model=server.model, messages=MESSAGES, max_tokens=12, temperature=0
        )
        assert reply.choices[0].message.role == "assistant"
        # the server trims surrounding whitespace of the answer; the words must be identical
        assert expected.strip() and reply.choices[0].message.content.strip() == expected.strip()
        assert reply.usage.completion_tokens == out.shape[1] - inputs["input_ids"].shape[1]

        stream = client.chat.completions.create(
            model=server.model, messages=MESSAGES, max_tokens=12, temperature=0, stream=True
        )
        pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
        assert len(pieces) > 1 and "".join(pieces).strip() == expected.strip()
        json.dumps(server.log())  # the log is readable text
        raise RuntimeError("body failed")  # the server must still be stopped
    assert pids
    deadline = time.time() + 10
    while not all(_gone(pid) for pid in pids) and time.time() < deadline:
        time.sleep(0.1)
    assert all(_gone(pid) for pid in pids), "a server process was left behind"
    assert _port_closed("127.0.0.1", server.port)
    assert not srv._LIVE
