"""One smoke execution of a notebook and the checks on it, shared by tests/test_notebooks.py (papermill) and
tests/test_ui.py (JupyterLab's Run All in Chromium, for the notebooks in ``IN_BROWSER``).

The checks: what the run recorded (tools/nb_checks), its exercises (a probe cell appended to the executed copy,
tests/exercises.py), and the outputs of its cells tagged ``nbval-check-output`` against the committed ones
(tests/nb_outputs.py, nbval --nbval-lax's rules).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from helpers.results import load
from tests.exercises import probe_cell, problems
from tests.nb_outputs import output_differences
from tools.runner import NOTEBOOKS

#: Wall-clock limit per notebook in smoke mode (seconds): a guard that kills a hung kernel, not a speed
#: target (smoke runs take 20-120 s on an idle 2-core machine; speed is measured in benchmarks/).
DEFAULT_BUDGET = 600
BUDGET: dict[str, int] = {}


#: Prepended to PYTHONPATH, this folder's sitecustomize hides what only Linux has (/proc, resource, os.killpg).
NO_LINUX = Path(__file__).parent / "no_linux"
#: Notebooks whose smoke run (papermill here, JupyterLab for 02) runs without Linux-only facilities, as on macOS
#: and Windows: the ones that measure memory (02, 04, 07) and stop processes.
WITHOUT_LINUX = {"02_choosing_a_model", "04_training", "07_scaling_up"}


def without_linux(env: dict[str, str]) -> dict[str, str]:
    """``env`` with :data:`NO_LINUX` first on PYTHONPATH."""
    return {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(NO_LINUX), env.get("PYTHONPATH")]))}


def run_notebook(
    nb: Path,
    out_dir: Path,
    *,
    env: dict[str, str] | None = None,
    params: dict | None = None,
    cwd: Path = NOTEBOOKS,
    python: Path | str = sys.executable,
    kernel: str | None = None,
) -> dict:
    """Run ``nb`` with papermill in a subprocess (so a hung kernel can be killed); return its recorded results.

    ``cwd`` is the kernel's working folder: ``notebooks/``, or ``notebooks/zh/`` for the Chinese edition. ``python``
    and ``kernel`` run it in another environment (an installed wheel's). ``env`` entries set to None are removed.
    """
    params = {"SMOKE": True, **(params or {})}
    cmd = [
        str(python),
        "-m",
        "papermill",
        str(nb),
        str(out_dir / nb.name),
        "--cwd",
        str(cwd),
        "--no-progress-bar",
        *(["-k", kernel] if kernel else []),
    ]
    for key, value in params.items():
        cmd += ["-p", key, str(value)] if not isinstance(value, str) else ["-r", key, value]
    run_env = {**os.environ, "LORA_LAB_RUN_DIR": str(out_dir), **(env or {})}
    run_env = {k: v for k, v in run_env.items() if v is not None}
    budget = BUDGET.get(nb.stem, DEFAULT_BUDGET)
    proc = subprocess.Popen(
        cmd, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    start = time.perf_counter()
    try:
        output, _ = proc.communicate(timeout=budget)
    except subprocess.TimeoutExpired:
        for child in psutil.Process(proc.pid).children(recursive=True):
            child.kill()
        proc.kill()
        output, _ = proc.communicate()
        pytest.fail(f"{nb.name} exceeded its {budget} s smoke budget.\n{output[-4000:]}")
    if proc.returncode != 0:
        pytest.fail(f"{nb.name} failed (exit {proc.returncode}):\n{output[-6000:]}")
    print(f"{nb.name}: {time.perf_counter() - start:.0f} s")
    return load(out_dir).get(nb.stem, {})


def _check_05_rebuilt_the_adapter(executed: Path, artifacts: Path, results: dict) -> None:
    """05 ran against an empty artifacts folder: it trained an adapter, said so, and scored it."""
    assert results["adapter_rebuilt"] is True, results["adapter_rebuilt"]
    assert (artifacts / "adapter" / "adapter_model.safetensors").is_file()
    out = json.loads(executed.read_text(encoding="utf-8"))
    printed = "".join(
        "".join(o.get("text", ""))
        for c in out["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
    )
    assert "rebuilt now" in printed and "rebuilding it" in printed  # the learner is told


#: Notebooks that run with an artifacts folder of their own, EMPTY at the start, and what is checked afterwards.
#: The others share their worker's folder (conftest.py): 06 then loads the adapter 04's smoke run saved when 04 ran
#: earlier on the same worker, and rebuilds one itself (ensure_adapter) otherwise; it passes either way.
FRESH_ARTIFACTS = {"05_evaluation": _check_05_rebuilt_the_adapter}


#: Notebooks that tests/test_ui.py executes in JupyterLab (Run All, smoke mode) and checks with
#: :func:`check_smoke_run`: the test of each, by name. tests/test_notebooks.py runs them with papermill only when
#: that test is not part of the session or cannot run (no Chromium), so each notebook still executes once.
IN_BROWSER = {
    "00_start_here": "test_00_runs_twice_with_finished_bars",
    "02_choosing_a_model": "test_02_memory_planner_answers",
    "05_evaluation": "test_05_base_vs_tuned_viewer_answers",
}
CHROMIUM = Path(os.environ.get("LORA_LAB_CHROMIUM", "/usr/bin/chromium"))


def runs_in_browser(stem: str, session: pytest.Session) -> bool:
    """Whether tests/test_ui.py executes (and checks) this notebook in this session."""
    name = IN_BROWSER.get(stem)
    return (
        bool(name)
        and CHROMIUM.is_file()
        and any(item.path.name == "test_ui.py" and item.originalname == name for item in session.items)
    )


def write_probed(nb: Path, dest: Path) -> Path:
    """Write ``nb`` with the exercise probe cell appended to ``dest`` (a file path); return ``dest``."""
    data = json.loads(nb.read_text(encoding="utf-8"))
    data["cells"].append(probe_cell(data))
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return dest


def check_smoke_run(nb: Path, executed: Path, run_dir: Path, artifacts: Path | None = None) -> None:
    """The checks on one smoke execution of ``nb`` (the committed notebook) saved as ``executed``.

    ``run_dir`` holds what the run recorded (results.json) and the probe's exercises.json; ``artifacts`` is the
    run's own artifacts folder, empty at its start, for the notebooks in ``FRESH_ARTIFACTS``.
    """
    results = load(run_dir).get(nb.stem, {})
    assert results, f"{nb.name} recorded no results: its last cell must call helpers.results.record()"
    checker = importlib.import_module(f"tools.nb_checks.nb_{nb.stem}")
    checker.check(results)
    if nb.stem in FRESH_ARTIFACTS:
        assert artifacts is not None, (
            f"{nb.name} must run with an artifacts folder of its own, empty at the start"
        )
        FRESH_ARTIFACTS[nb.stem](executed, artifacts, results)
    report = json.loads((run_dir / "exercises.json").read_text(encoding="utf-8"))
    assert report, f"{nb.name} has no exercises"
    bad = problems(report)
    assert not bad, f"{nb.name}: exercises that do not really test:\n" + "\n".join(bad)
    differ = output_differences(nb, executed)
    assert not differ, f"{len(differ)} cell(s) tagged nbval-check-output differ:\n" + "\n\n".join(differ)


#: Notebooks whose smoke run is the lone-notebook test: copied into an empty folder and run from the course wheel
#: installed in a fresh virtual environment (no checkout beside it), installed as notebook 00 shows.
LONE = {"01_data_preparation", "04_training"}
WHEEL = "lora_lab-0.1.0-py3-none-any.whl"  # the file name notebook 00's install cell names
LONE_KERNEL = "lora-lab-wheel"


def install_cell() -> list[str]:
    """The install lines notebook 00 shows for Colab and Kaggle (its ```python block holding ``%pip install``)."""
    nb = json.loads((NOTEBOOKS / "00_start_here.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        for block in text.split("```python\n")[1:]:
            lines = [line.strip() for line in block.split("```")[0].splitlines()]
            if any(line.startswith("%pip install") for line in lines):
                return [line for line in lines if line.startswith("%pip")]
    raise AssertionError("notebook 00 shows no ```python block with %pip install lines")


def install_course(root: Path) -> tuple[Path, str]:
    """Build the course wheel, make a fresh virtual environment in ``root`` and run notebook 00's install cell there
    (the wheel's path in place of its name); return the environment's Python and its kernel's name.

    The fresh environment sees the test environment's packages through a ``.pth`` file naming a folder of hard
    links to them, the course itself left out: its dependencies are installed, the course is not, as on Colab.
    """
    import sysconfig

    from helpers.env import ROOT
    from tests.test_packaging import COURSE

    source, dist = root / "source", root / "dist"  # built from a copy: nothing is written into the checkout
    source.mkdir()
    for part in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / part, source / part)
    for part in ("helpers", "data", "configs", "examples"):
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(source)]
    subprocess.run([*pip_wheel, "-w", str(dist)], check=True)
    wheel = dist / WHEEL
    assert wheel.is_file(), sorted(p.name for p in dist.iterdir())
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = COURSE.venv_python(venv)
    purelib = Path(sysconfig.get_paths()["purelib"])
    deps = (
        venv / "deps"
    )  # inside the environment: libraries (dill, so datasets) tell installed modules by prefix
    deps.mkdir()
    for entry in purelib.iterdir():
        name = entry.name.lower()
        if (
            name == "helpers"
            or name.startswith(("lora_lab", "__editable__", "_lora_lab"))
            or name.endswith(".pth")
        ):
            continue
        if entry.is_dir():  # hard links: no copy of the gigabytes, and each file's real path lies in the venv
            shutil.copytree(entry, deps / entry.name, copy_function=os.link, symlinks=True)
        else:
            os.link(entry, deps / entry.name)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "course-deps.pth").write_text(str(deps) + "\n")
    for line in install_cell():
        args = line.removeprefix("%pip").split()
        args = [str(wheel) if a == WHEEL else a for a in args]
        subprocess.run([str(python), "-m", "pip", *args], check=True, cwd=root)
    subprocess.run(
        [str(python), "-m", "ipykernel", "install", "--sys-prefix", "--name", LONE_KERNEL],
        check=True,
        capture_output=True,
    )
    return python, LONE_KERNEL
