"""`transformers serve` on 127.0.0.1 as a context manager that waits for /health and stops the server after."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.env import pick_device


class ServerError(RuntimeError):
    """The model server did not come up (the message holds the tail of its log)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _serve_command() -> list[str]:
    for name in ("transformers", "transformers.exe"):  # a venv's bin/ (Linux, macOS) or Scripts\ (Windows)
        script = Path(sys.executable).parent / name
        if script.is_file():
            return [str(script), "serve"]
    found = shutil.which("transformers")
    if found:
        return [found, "serve"]
    raise ServerError(
        "The `transformers` command was not found next to this Python or on PATH.\n"
        "Fix: install the course environment (`make lab`), which installs transformers with its CLI."
    )


def log_tail(path: str | os.PathLike, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file ('' when it does not exist)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    # progress bars write carriage returns: keep the last state of each line
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.splitlines()[-lines:])


@dataclass
class Server:
    """A running ``transformers serve`` process (what :func:`serve` yields)."""

    base_url: str  #: the OpenAI-compatible root, e.g. ``http://127.0.0.1:PORT/v1``
    model: str  #: the model name to send in requests (the served folder, as given on the command line)
    host: str
    port: int
    pid: int
    log_path: Path
    startup_seconds: float

    def client(self, **kwargs: Any) -> Any:
        """An ``openai.OpenAI`` client for this server (a local server needs no real API key)."""
        from openai import OpenAI

        return OpenAI(base_url=self.base_url, api_key="not-needed-locally", **kwargs)

    def log(self, lines: int = 30) -> str:
        """The tail of the server log."""
        return log_tail(self.log_path, lines)


#: Servers still running. A notebook holds one open across cells (an ExitStack), so the ``finally`` below never
#: runs when its kernel exits; at exit a generator cannot clean up any more (tests/test_serve.py shows both).
_LIVE: dict[int, subprocess.Popen] = {}


def _stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop the server and every process it started: terminate, then kill after ``grace`` seconds (any OS)."""
    import psutil

    _LIVE.pop(proc.pid, None)
    try:
        leader = psutil.Process(proc.pid)
        family = [leader, *leader.children(recursive=True)]  # listed before anyone exits and orphans the rest
    except psutil.NoSuchProcess:
        family = []
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()
    _, alive = psutil.wait_procs(family, timeout=grace)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    psutil.wait_procs(alive, timeout=grace)
    if hasattr(os, "killpg"):  # POSIX: also sweep the server's session, for a child whose parent died first
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


@atexit.register
def _stop_all() -> None:  # a kernel shutting down must not leave a server behind
    for proc in list(_LIVE.values()):
        _stop(proc, grace=2.0)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


@contextlib.contextmanager
def serve(
    model_dir: str | os.PathLike,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    device: str | None = None,
    dtype: str = "auto",
    timeout: float = 240.0,
    log_path: str | os.PathLike | None = None,
    extra_args: Sequence[str] = (),
) -> Iterator[Server]:
    """Serve a saved model folder with ``transformers serve`` for the duration of a ``with`` block.

    Example::

        with serve("artifacts/merged") as server:
            client = server.client()
            client.chat.completions.create(model=server.model, messages=[...], temperature=0)

    The server binds ``host`` only (loopback by default, so nothing outside this machine can reach
    it), preloads the model, and the block starts once ``GET /health`` answers 200. On leaving the
    block (normally, on an exception, or on Ctrl-C) the server and every process it started are stopped.

    Args:
        model_dir: a folder written by ``save_pretrained`` (model and tokenizer).
        host: the address to bind; keep ``127.0.0.1`` unless you mean to expose the model.
        port: default: a free port picked by the OS.
        device: ``"cpu"``, ``"cuda"``...; default :func:`helpers.env.pick_device`.
        dtype: ``"auto"`` (the dtype stored in the folder) or e.g. ``"bfloat16"``.
        timeout: seconds to wait for ``/health`` (model loading included).
        log_path: where the server's stdout/stderr go; default a temporary file that is kept.
        extra_args: more ``transformers serve`` flags, e.g. ``["--continuous-batching"]``.

    Yields:
        A :class:`Server` with ``base_url``, ``model`` (the name to use in requests) and ``log_path``.

    Raises:
        ServerError: the folder is not a model, the server exited, or ``/health`` did not answer in
            time; the message holds the tail of the server log.
    """
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ServerError(
            f"{model_dir} is not a saved model folder (no config.json).\n"
            "Fix: save one with model.save_pretrained(folder) and tokenizer.save_pretrained(folder) first."
        )
    if log_path is None:
        fd, log_path = tempfile.mkstemp(prefix="transformers-serve-", suffix=".log")
        os.close(fd)
    log_path, name, port = Path(log_path), str(model_dir), port or free_port(host)
    cmd = [*_serve_command(), name, "--host", host, "--port", str(port)]
    cmd += ["--device", device or pick_device(), "--dtype", dtype, *extra_args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    start = time.perf_counter()
    with open(log_path, "w") as log:  # its own session (POSIX), so Ctrl-C in the notebook does not reach it
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # POSIX
            creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),  # Windows
        )
    _LIVE[proc.pid] = proc
    try:
        health = f"http://{host}:{port}/health"
        while not _healthy(health):
            if proc.poll() is not None:
                raise ServerError(
                    f"`transformers serve {name}` exited with code {proc.returncode} before /health answered. "
                    f"Last lines of its log ({log_path}):\n{log_tail(log_path)}"
                )
            if time.perf_counter() - start > timeout:
                raise ServerError(
                    f"`transformers serve {name}` did not answer {health} within {timeout:.0f} s. "
                    f"Last lines of its log ({log_path}):\n{log_tail(log_path)}\n"
                    "Fix: pass a longer timeout= (loading is slow on a busy CPU), or read the log above."
                )
            time.sleep(0.25)
        yield Server(
            f"http://{host}:{port}/v1", name, host, port, proc.pid, log_path, time.perf_counter() - start
        )
    finally:
        _stop(proc)
