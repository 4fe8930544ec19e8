"""Every notebook's exercises follow the one pattern (README, "Notebook output policy"), and `check` really checks.

Executing them three ways (unanswered, wrong, solved) happens in tests/smoke.py's checks, inside each smoke run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers.exercises import check
from tests.exercises import exercises
from tools.runner import notebooks

SOLUTIONS_LINE = 'SOLUTIONS = bool(int(os.environ.get("LORA_LAB_SOLUTIONS", "0")))'


def _load(nb: Path) -> dict:
    return json.loads(nb.read_text(encoding="utf-8"))


def _src(cell: dict) -> str:
    return "".join(cell["source"])


@pytest.mark.parametrize("nb", notebooks(), ids=lambda p: p.stem)
def test_exercises_follow_the_pattern(nb: Path):
    data = _load(nb)
    found = exercises(data)  # raises, naming the cell, on a broken pattern
    assert len(found) >= 2, (
        f"{nb.name} has {len(found)} exercises; 'Check your understanding' needs at least 2"
    )
    assert sorted(found) == list(range(1, len(found) + 1)), (
        f"{nb.name}: exercises are numbered {sorted(found)}"
    )
    params = [c for c in data["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert params and SOLUTIONS_LINE in _src(params[0]), (
        f"{nb.name}: the parameters cell lacks `{SOLUTIONS_LINE}`"
    )
    # The learner's answer is set in the exercise cell only; solutions assign it under their guard.
    for i, cell in enumerate(data["cells"]):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] != "code" or {"exercise", "solution"} & set(tags):
            continue
        for n in found:
            assert not re.search(rf"^\s*answer_{n}\s*=", _src(cell), re.M), (
                f"{nb.name} cell {i} assigns answer_{n} outside its exercise and solution cells"
            )


def test_check_none_wrong_right(capsys):
    check(1, None, 3, hint="h")
    assert "not answered yet" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="Hint: count both matrices"):
        check(1, 4, 3, hint="count both matrices")
    check(1, 3, 3, hint="h")
    assert "Exercise 1: correct" in capsys.readouterr().out


def test_check_numbers_bools_and_custom_equality(capsys):
    with pytest.raises(AssertionError):
        check(2, 1, True, hint="a bool, not a number")
    with pytest.raises(AssertionError):
        check(2, 0.30, 0.3001, hint="exact")
    check(2, 0.30, 0.3001, hint="close", rel_tol=1e-3)
    check(3, lambda x: x + 1, None, hint="h", equal=lambda f, _: f(1) == 2)
    assert capsys.readouterr().out.count("correct") == 2
    with pytest.raises(AssertionError, match="raised ZeroDivisionError"):
        check(3, lambda x: 1 / 0, None, hint="h", equal=lambda f, _: f(1) == 2)


def test_pattern_parser_rejects_an_answer_in_the_exercise_cell():
    def cell(tags, src, **meta):
        return {"cell_type": "code", "source": src, "metadata": {"tags": tags, **meta}}

    hidden = {"jupyter": {"source_hidden": True}}
    good = [
        cell(["exercise"], "answer_1 = None  # an int", lora_lab={"wrong": ["1"]}),
        cell(["solution"], "if SOLUTIONS and answer_1 is None:\n    answer_1 = 2", **hidden),
        cell(["check"], "check(1, answer_1, truth=2, hint='h')", **hidden),
    ]
    assert list(exercises({"cells": good})) == [1]
    for broken, why in [
        ({**good[0], "source": "answer_1 = 2"}, "exactly"),
        ({**good[1], "source": "answer_1 = 2"}, "guarded"),
        ({**good[1], "metadata": {"tags": ["solution"]}}, "collapsed"),
        ({**good[0], "metadata": {"tags": ["exercise"]}}, "wrong answers"),
    ]:
        cells = [broken if c["metadata"].get("tags") == broken["metadata"]["tags"] else c for c in good]
        with pytest.raises(ValueError, match=why):
            exercises({"cells": cells})
