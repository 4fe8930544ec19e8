"""helpers.serve: the `transformers serve` context manager."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
import torch

from helpers import serve as srv
from helpers.env import ROOT
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


# --- serving ---------------------------------------------------------------------------------------


def test_serve_refuses_a_folder_without_config(tmp_path):
    with pytest.raises(srv.ServerError, match="no config.json"), srv.serve(tmp_path):
        pass


def _fake_server(monkeypatch, script: str) -> None:
    """Replace `transformers serve` by a Python script (which receives the same arguments)."""
    monkeypatch.setattr(srv, "_serve_command", lambda: [sys.executable, "-c", script])


def test_server_not_up_in_time_shows_log_and_kills_group(monkeypatch, tiny_qwen2_dir, tmp_path):
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
        srv.serve(tiny_qwen2_dir, timeout=3, log_path=tmp_path / "log.txt"),
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


def test_server_that_exits_shows_log(monkeypatch, tiny_qwen2_dir):
    _fake_server(monkeypatch, "import sys; print('cannot load model: boom', flush=True); sys.exit(3)")
    with (
        pytest.raises(srv.ServerError, match=r"exited with code 3(.|\n)*cannot load model: boom"),
        srv.serve(tiny_qwen2_dir, timeout=60),
    ):
        pass


@pytest.mark.slow  # trains, loads the embedded model or starts a server: make test, not test-fast
def test_serve_chat_roundtrip_then_stops(tiny_qwen2_dir):
    """A real `transformers serve`: loopback only, chat + streamed chat == local greedy, nothing left behind."""
    model, tok = tiny_model("qwen2")
    inputs = tok.apply_chat_template(
        MESSAGES, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    expected = tok.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)

    pids: list[int] = []
    with pytest.raises(RuntimeError, match="body failed"), srv.serve(tiny_qwen2_dir, device="cpu") as server:
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


#: A stand-in for `transformers serve` that answers /health (it receives the same arguments).
HEALTHY_SERVER = """
import http.server, sys
port = int(sys.argv[sys.argv.index("--port") + 1])
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
"""


def test_a_server_held_across_cells_stops_when_python_exits(tiny_qwen2_dir):
    """Notebook 06 keeps its server open across cells (an ExitStack never closed when the kernel exits). The
    context manager's ``finally`` cannot run then (at exit the generator fails), so the atexit hook must stop it."""
    code = textwrap.dedent(f"""
        import contextlib, sys
        from helpers import serve as srv
        srv._serve_command = lambda: [sys.executable, "-c", {HEALTHY_SERVER!r}]
        stack = contextlib.ExitStack()
        server = stack.enter_context(srv.serve({str(tiny_qwen2_dir)!r}, timeout=60))
        print(server.pid, flush=True)
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    pid = int(proc.stdout.split()[-1])
    deadline = time.time() + 10
    while not _gone(pid) and time.time() < deadline:
        time.sleep(0.1)
    survived = not _gone(pid)
    if survived:  # do not leave it running when the check fails
        os.killpg(pid, signal.SIGKILL)
    assert not survived, "the server outlived the Python process that started it"
