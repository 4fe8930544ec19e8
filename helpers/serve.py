"""Adapter folder checks, merge fidelity, and `transformers serve` on 127.0.0.1 as a context manager."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
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

import torch

from helpers.env import pick_device

#: How to rebuild the course adapter; every adapter-folder error names it.
ADAPTER_FIX = "run notebooks/04_training.ipynb, or call helpers.finetune.ensure_adapter() to rebuild it"
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


class AdapterError(ValueError):
    """An adapter folder is missing, incomplete, or does not fit the model; the message names the fix."""


class ServerError(RuntimeError):
    """The model server did not come up (the message holds the tail of its log)."""


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
            _adapter_shapes(weights[0])
        except Exception as exc:  # noqa: BLE001 - any unreadable file means the same thing to the learner
            raise AdapterError(
                f"{weights[0]} cannot be read ({type(exc).__name__}: {exc}); it is truncated or corrupt.\n"
                f"Fix: {ADAPTER_FIX}."
            ) from exc
    return config


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


# --- serving ---------------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _serve_command() -> list[str]:
    script = Path(sys.executable).parent / "transformers"
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


_LIVE: dict[int, subprocess.Popen] = {}


def _stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop the server's whole process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    _LIVE.pop(proc.pid, None)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    # the leader may be gone while children of its group live on: always sweep the group
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
    block (normally, on an exception, or on Ctrl-C) its whole process group is stopped.

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
        fd, name = tempfile.mkstemp(prefix="transformers-serve-", suffix=".log")
        os.close(fd)
        log_path = name
    log_path = Path(log_path)
    model_name = str(model_dir)
    auto_port = port is None
    for attempt in range(3):  # a picked port can be taken by someone else before the server binds it
        port_now = free_port(host) if auto_port else int(port)
        cmd = [*_serve_command(), model_name, "--host", host, "--port", str(port_now)]
        cmd += ["--device", device or pick_device(), "--dtype", dtype, *extra_args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
        start = time.perf_counter()
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        _LIVE[proc.pid] = proc
        try:
            health = f"http://{host}:{port_now}/health"
            while not _healthy(health):
                if proc.poll() is not None:
                    tail = log_tail(log_path)
                    if auto_port and attempt < 2 and "address already in use" in tail.lower():
                        break
                    raise ServerError(
                        f"`transformers serve {model_name}` exited with code {proc.returncode} before /health "
                        f"answered. Last lines of its log ({log_path}):\n{tail}"
                    )
                if time.perf_counter() - start > timeout:
                    raise ServerError(
                        f"`transformers serve {model_name}` did not answer {health} within {timeout:.0f} s. "
                        f"Last lines of its log ({log_path}):\n{log_tail(log_path)}\n"
                        "Fix: pass a longer timeout= (loading is slow on a busy CPU), or read the log above."
                    )
                time.sleep(0.25)
            else:
                server = Server(
                    base_url=f"http://{host}:{port_now}/v1",
                    model=model_name,
                    host=host,
                    port=port_now,
                    pid=proc.pid,
                    log_path=log_path,
                    startup_seconds=time.perf_counter() - start,
                )
                yield server
                return
        finally:
            _stop(proc)
    raise ServerError(f"Could not find a free port on {host} after 3 tries; log tail:\n{log_tail(log_path)}")
