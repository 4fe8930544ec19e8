"""One smoke execution of a notebook and the checks on it, shared by tests/test_notebooks.py (papermill) and
tests/test_ui.py (JupyterLab's Run All in Chromium, for the notebooks in ``IN_BROWSER``).

The checks: what the run recorded (tests/nb_checks), its exercises (a probe cell appended to the executed copy,
tests/exercises.py), and the outputs of its cells marked ``# NBVAL_CHECK_OUTPUT`` against the committed ones
(tests/nb_outputs.py, nbval --nbval-lax's rules).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.results import load
from helpers.runner import NOTEBOOKS
from tests.exercises import probe_cell, problems
from tests.nb_outputs import output_differences

#: Wall-clock limit per notebook in smoke mode (seconds): a guard that kills a hung kernel, not a speed
#: target (smoke runs take 20-120 s on an idle 2-core machine; speed is measured in benchmarks/).
DEFAULT_BUDGET = 600
BUDGET: dict[str, int] = {}


def run_notebook(
    nb: Path,
    out_dir: Path,
    *,
    env: dict[str, str] | None = None,
    params: dict | None = None,
    cwd: Path = NOTEBOOKS,
) -> dict:
    """Run ``nb`` with papermill in a subprocess (so a hung kernel can be killed); return its recorded results.

    ``cwd`` is the kernel's working folder: ``notebooks/``, or ``notebooks/zh/`` for the Chinese edition.
    """
    params = {"SMOKE": True, **(params or {})}
    cmd = [
        sys.executable,
        "-m",
        "papermill",
        str(nb),
        str(out_dir / nb.name),
        "--cwd",
        str(cwd),
        "--no-progress-bar",
    ]
    for key, value in params.items():
        cmd += ["-p", key, str(value)] if not isinstance(value, str) else ["-r", key, value]
    run_env = {**os.environ, "LORA_LAB_RUN_DIR": str(out_dir), **(env or {})}
    budget = BUDGET.get(nb.stem, DEFAULT_BUDGET)
    proc = subprocess.Popen(
        cmd, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    start = time.perf_counter()
    try:
        output, _ = proc.communicate(timeout=budget)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
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
    checker = importlib.import_module(f"tests.nb_checks.nb_{nb.stem}")
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
    assert not differ, f"{len(differ)} cell(s) marked NBVAL_CHECK_OUTPUT differ:\n" + "\n\n".join(differ)
