"""Execute every notebook once with papermill (SMOKE=True): check what it records, its exercises, and the outputs of
its cells marked ``# NBVAL_CHECK_OUTPUT`` against the committed ones (tests/nb_outputs.py, nbval --nbval-lax's rules)."""

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
from helpers.runner import NOTEBOOKS, notebooks
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
#: The others share the session's folder (conftest.py): 06 then loads the adapter 04's smoke run saved when 04 ran
#: earlier in the session, and rebuilds one itself (ensure_adapter) when it runs alone; it passes either way.
FRESH_ARTIFACTS = {"05_evaluation": _check_05_rebuilt_the_adapter}


@pytest.mark.slow
@pytest.mark.parametrize("nb", notebooks(), ids=lambda p: p.stem)
def test_notebook_smoke(nb: Path, tmp_path: Path) -> None:
    """The one execution of each notebook per `make test`. Its recorded results are checked; every exercise is tried
    three ways (unanswered, wrong, solved) in the same kernel by a probe cell appended to a copy of the notebook; and
    every cell marked ``# NBVAL_CHECK_OUTPUT`` must print what the committed notebook shows, as under nbval."""
    data = json.loads(nb.read_text(encoding="utf-8"))
    data["cells"].append(probe_cell(data))
    probed = tmp_path / "in" / nb.name
    probed.parent.mkdir()
    probed.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    env = {}
    if nb.stem in FRESH_ARTIFACTS:
        (tmp_path / "artifacts").mkdir()
        env["LORA_LAB_ARTIFACTS"] = str(tmp_path / "artifacts")
    results = run_notebook(probed, tmp_path, env=env)
    assert results, f"{nb.name} recorded no results: its last cell must call helpers.results.record()"
    checker = importlib.import_module(f"tests.nb_checks.nb_{nb.stem}")
    checker.check(results)
    if nb.stem in FRESH_ARTIFACTS:
        FRESH_ARTIFACTS[nb.stem](tmp_path / nb.name, tmp_path / "artifacts", results)
    report = json.loads((tmp_path / "exercises.json").read_text(encoding="utf-8"))
    assert report, f"{nb.name} has no exercises"
    bad = problems(report)
    assert not bad, f"{nb.name}: exercises that do not really test:\n" + "\n".join(bad)
    differ = output_differences(nb, tmp_path / nb.name)
    assert not differ, f"{len(differ)} cell(s) marked NBVAL_CHECK_OUTPUT differ:\n" + "\n\n".join(differ)
