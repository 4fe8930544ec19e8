"""The committed notebooks follow the output policy in README.md ("Notebook output policy")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.env import ROOT
from helpers.runner import notebooks

SHARED_CHECK = ROOT.parent / "shared" / "tools" / "check_notebooks.py"
MAX_NOTEBOOK_BYTES = 2_000_000
MAX_IMAGE_BYTES = 200_000


@pytest.mark.skipif(
    not SHARED_CHECK.is_file(), reason="../shared/tools/check_notebooks.py is not beside this clone"
)
def test_shared_notebook_checks_report_no_problems():
    proc = subprocess.run(
        [sys.executable, str(SHARED_CHECK), "notebooks"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0 and proc.stdout.strip().endswith(" 0 problems"), proc.stdout + proc.stderr


@pytest.mark.parametrize("nb", notebooks(), ids=lambda p: p.stem)
def test_committed_outputs_come_from_a_default_run(nb: Path):
    data = json.loads(nb.read_text(encoding="utf-8"))
    pm = data.get("metadata", {}).get("papermill")
    assert pm is not None, f"{nb.name} was not rendered: run `make render` and commit the result"
    assert pm.get("parameters") == {}, (
        f"{nb.name} was rendered with parameters {pm.get('parameters')}, not the defaults"
    )
    assert pm.get("exception") in (None, False), f"{nb.name} stored a failed run"
    tags = [t for c in data["cells"] for t in c.get("metadata", {}).get("tags", [])]
    assert "injected-parameters" not in tags, f"{nb.name} carries an injected-parameters cell"
    code = [c for c in data["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code if c["source"]), f"{nb.name} has unexecuted code cells"


@pytest.mark.parametrize("nb", notebooks(), ids=lambda p: p.stem)
def test_notebook_size_and_state(nb: Path):
    raw = nb.read_bytes()
    assert len(raw) < MAX_NOTEBOOK_BYTES, (
        f"{nb.name} is {len(raw) / 1e6:.1f} MB; shrink its figures (dpi, figsize)"
    )
    data = json.loads(raw)
    assert "widgets" not in data.get("metadata", {}), (
        f"{nb.name} stores widget state; clear it before committing"
    )
    for i, cell in enumerate(data["cells"]):
        for out in cell.get("outputs", []):
            png = out.get("data", {}).get("image/png", "")
            assert len(png) * 3 // 4 < MAX_IMAGE_BYTES, (
                f"{nb.name} cell {i}: image over {MAX_IMAGE_BYTES // 1000} kB"
            )
