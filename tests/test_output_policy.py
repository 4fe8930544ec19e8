"""The committed notebooks follow the output policy in README.md ("Notebook output policy")."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.env import ROOT
from tools.runner import notebooks

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


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: tqdm's text: ``Loading weights:  40%|####      | 109/272 [00:01<00:02, 80.1it/s]``.
PROGRESS = re.compile(r"(\d+)/(\d+) \[\d")
#: An ipywidgets repr, what a reader sees of a widget stored without its state: ``VBox(children=(Dropdown(...``.
WIDGET_REPR = re.compile(r"^[A-Z]\w*\(\w+=")


def reader_problems(data: dict) -> list[str]:
    """What a reader without a kernel (GitHub, nbviewer) would see wrong in a notebook's stored outputs.

    - a progress bar stuck below 100 %: a tqdm widget (its state is never stored, so it shows 0 %) or a text bar
      whose last state is short of its total;
    - a widget stored as its repr only, or a widget without a static copy (a figure or a table) after it.
    """
    problems = []
    for i, cell in enumerate(data["cells"]):
        outputs = cell.get("outputs", [])
        for j, out in enumerate(outputs):
            where = f"cell {i} output {j}"
            bundle = out.get("data", {})
            text = "".join(bundle.get("text/plain", "")) if bundle else "".join(out.get("text", ""))
            if WIDGET_VIEW in bundle:
                if PROGRESS.search(text):
                    problems.append(f"{where}: a progress-bar widget, frozen for a reader: {text[:80]!r}")
                    continue
                if WIDGET_REPR.match(text):
                    problems.append(f"{where}: a widget whose only text is its repr: {text[:80]!r}")
                static = [o for o in outputs[j + 1 :] if {"image/png", "text/html"} & set(o.get("data", {}))]
                if not static:
                    problems.append(f"{where}: a widget without a static copy of its default state after it")
                continue
            for line in text.split("\n"):
                m = PROGRESS.search(line.rsplit("\r", 1)[-1])  # what a terminal (and nbviewer) shows last
                if m and int(m.group(1)) < int(m.group(2)):
                    problems.append(f"{where}: a progress bar stuck below 100 %: {line.strip()[:100]!r}")
    return problems


def assert_no_problems(nb: Path, find, advice: str) -> None:
    """Fail with every problem ``find(notebook JSON)`` lists in ``nb``, and the advice that mends them."""
    problems = find(json.loads(nb.read_text(encoding="utf-8")))
    assert not problems, f"{nb.name}: {advice}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("nb", notebooks(), ids=lambda p: p.stem)
def test_readers_see_finished_progress_and_static_widgets(nb: Path):
    assert_no_problems(
        nb,
        reader_problems,
        "stored outputs read badly without a kernel; re-render it with `make render` (tools.runner prints text "
        "progress bars and adds static copies under the explorers)",
    )


#: What a check cell prints for an unanswered exercise (helpers.exercises.check).
UNANSWERED = "not answered yet"
#: Harness lines that do not belong in a lesson cell: nbval markers (they are cell tags) and warning filters
#: (helpers.env.quiet_library_notices does that in the setup cell).
HARNESS_LINE = re.compile(
    r"#\s*(NBVAL|PYTEST_VALIDATE)_\w+|warnings\.(filterwarnings|simplefilter|catch_warnings)"
)


def revealed_answers(data: dict) -> list[str]:
    """The check cells whose stored output gives something away: anything but "not answered yet"."""
    problems = []
    for i, cell in enumerate(data["cells"]):
        if "check" not in cell.get("metadata", {}).get("tags", []):
            continue
        texts = [
            "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
            for o in cell.get("outputs", [])
        ]
        shown = "".join(texts).strip()
        if UNANSWERED not in shown or "correct" in shown or "Hint" in shown:
            problems.append(f"cell {i}: {shown[:100]!r}")
    return problems


@pytest.mark.parametrize("nb", notebooks(), ids=lambda p: p.stem)
def test_committed_exercises_are_unanswered(nb: Path):
    assert_no_problems(
        nb,
        revealed_answers,
        "a committed check shows more than 'not answered yet', so a reader sees the answer; render with "
        "`make render` (it leaves SOLUTIONS off)",
    )


def test_a_solved_check_counts_as_revealed():
    solved = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"tags": ["check"]},
                "source": "check(1, answer_1)",
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": "Exercise 1: correct (30).\n"}
                ],
            }
        ]
    }
    assert revealed_answers(solved) == ["cell 0: 'Exercise 1: correct (30).'"]
    solved["cells"][0]["outputs"][0]["text"] = (
        "Exercise 1: not answered yet. Fill in answer_1 above and run this cell again.\n"
    )
    assert revealed_answers(solved) == []


def harness_lines(data: dict) -> list[str]:
    """Code lines that are harness, not lesson: an nbval comment or a warnings filter."""
    return [
        f"cell {i} ({cell.get('id')}): {line.strip()}"
        for i, cell in enumerate(data["cells"])
        if cell["cell_type"] == "code"
        for line in "".join(cell["source"]).splitlines()
        if HARNESS_LINE.search(line)
    ]


@pytest.mark.parametrize("nb", notebooks(), ids=lambda p: p.stem)
def test_lesson_cells_hold_no_harness(nb: Path):
    assert_no_problems(
        nb,
        harness_lines,
        "harness lines in lesson cells; use the cell tag nbval-check-output, and helpers.env.QUIET_NOTICES "
        "for a library notice",
    )
